"""The `relay` command: help, version, config check, migrate, preview."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from relay import __version__
from relay.cli.main import cli
from tests.feed_server import FeedServer
from tests.feeds import rss_feed
from tests.processes import relay_env, run_relay


def invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, args, obj={}, env=env or {}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("RELAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_version_from_the_installed_command(tmp_path: Path) -> None:
    result = run_relay(["--version"], relay_env(), tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"relay, version {__version__}"


@pytest.mark.parametrize("command", [[], ["serve"], ["poll"], ["preview"], ["migrate"], ["config", "check"]])
def test_every_command_has_help(command: list[str]) -> None:
    code, out, _ = invoke([*command, "--help"])
    assert code == 0
    assert "Usage: " in out and len(out.splitlines()) > 4


def test_config_check_redacts_and_says_dry_run() -> None:
    code, out, _ = invoke(["config", "check"], env={"RELAY_API_TOKEN": "super-secret-token"})
    assert code == 0
    assert "super-secret-token" not in out
    assert 'token = "********"' in out
    assert "dry-run" in out


def test_config_error_is_one_readable_line(tmp_path: Path) -> None:
    code, _, err = invoke(["config", "check"], env={"RELAY_SERVER_PORT": "eighty"})
    assert code == 2
    assert err.startswith("relay: config error in server.port")
    assert "Traceback" not in err


def test_migrate_creates_the_database_and_is_idempotent(tmp_path: Path) -> None:
    env = {"RELAY_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}"}
    code, out, _ = invoke(["migrate"], env=env)
    assert code == 0 and "applied 0001, 0002, 0003" in out
    code, out, _ = invoke(["migrate"], env=env)
    assert code == 0 and "already up to date" in out


@pytest.fixture
def feed_url() -> Iterator[str]:
    with FeedServer() as server:
        server.set("/feed/", body=rss_feed(range(1, 4)), headers={"Content-Type": "application/rss+xml"})
        yield server.url("/feed/")


def test_preview_url_json_lines_and_no_state(tmp_path: Path, feed_url: str) -> None:
    db = tmp_path / "never.db"
    code, out, _ = invoke(["preview", feed_url, "--json"], env={"RELAY_DATABASE_URL": f"sqlite:///{db}"})
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert {"guid", "url", "link", "text", "weighted_length"} <= row.keys()
        assert row["link"] in row["text"]
        assert row["link"].startswith(row["url"])
        assert "utm_source=twitter" in row["link"]
    assert not db.exists(), "preview never writes state"


def test_preview_text_shows_each_tweet(feed_url: str) -> None:
    code, out, _ = invoke(["preview", feed_url])
    assert code == 0
    assert out.count("/280)") == 3
    assert "Recette n°3" in out


def test_preview_of_a_missing_file_is_a_clear_error() -> None:
    code, _, err = invoke(["preview", "no-such-feed.xml"])
    assert code == 1
    assert "cannot read no-such-feed.xml" in err
