"""What `relay config check` (and `relay serve`, which reads the same settings) says about a wrong
[[accounts]] block or a feed naming an unknown account: what is wrong, what to write, what to do next."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from relay.cli.main import cli


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("RELAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def check(tmp_path: Path, config: str) -> tuple[int, str]:
    path = tmp_path / "relay.toml"
    path.write_text(config, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "config", "check"], obj={}, env={})
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ('[[accounts]]\nname = "toots"\nnetwork = "mastodon"\naccess_token = "tok-SECRET-123"\n',
         ['account "toots" is on Mastodon but has no instance_url', 'instance_url = "https://mastodon.social"']),
        ('[[accounts]]\nname = "sky"\nnetwork = "bluesky"\napp_password = "abcd-SECRET-efgh"\n',
         ['account "sky" is on Bluesky but has no handle', 'handle = "boulangerie.bsky.social"']),
        ('[[feeds]]\nurl = "https://boulangerie.example/feed/"\naccounts = ["default", "toots"]\n',
         ['feeds.0 posts as "toots", but no [[accounts]] block has that name (known: default)',
          'add an [[accounts]] block with name = "toots"']),
        ('[wordpress]\naccounts = ["sky"]\n',
         ['wordpress posts as "sky"', 'add an [[accounts]] block with name = "sky"']),
    ],
)
def test_a_wrong_account_says_what_to_write_and_what_to_do_next(tmp_path: Path, config: str,
                                                                 says: list[str]) -> None:
    code, err = check(tmp_path, config)
    assert code == 2
    for words in says:
        assert words in err
    assert "then run relay config check again" in err
    assert "Traceback" not in err


def test_the_message_never_shows_the_accounts_secrets(tmp_path: Path) -> None:
    """A rule over a whole [[accounts]] block is given the block: its token must not be printed with it."""
    code, err = check(tmp_path, '[[accounts]]\nname = "toots"\nnetwork = "mastodon"\naccess_token = "tok-SECRET-123"\n'
                                '[[accounts]]\nname = "sky"\nnetwork = "bluesky"\napp_password = "abcd-SECRET-efgh"\n')
    assert code == 2
    assert "SECRET" not in err and "got {" not in err
