"""What a newcomer types and sees: options on either side of the command, one-line errors that
give the right spelling, a config check that hides passwords and tests the database, a preview
that shows exactly what relay would post, the API docs without internet, and clean logs.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from relay.cli.main import cli
from relay.config.settings import load_settings
from relay.logs import JsonFormatter, KeyValueFormatter
from tests.conftest import fresh_postgres_schema
from tests.feed_server import FeedServer
from tests.feeds import rss_feed, rss_item
from tests.processes import free_port, relay_env, start_relay, wait_for
from tests.test_dashboard_browser import CHROMIUM_ARGS, _playwright

ROOT = Path(__file__).resolve().parents[1]


def invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, obj={}, env=env or {}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("RELAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# -- relay serve, with --config before or after the command -------------------------------------


class Served:
    def __init__(self, process: subprocess.Popen[bytes], log: Path, port: int) -> None:
        self.process, self.log, self.port = process, log, port
        self.base_url = f"http://127.0.0.1:{port}"

    def answers(self) -> bool:
        try:
            return httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return self.process.poll() is not None  # stop waiting: the process died

    def stop(self) -> str:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.log.read_text(encoding="utf-8")


def serve(args: list[str], tmp_path: Path, port: int) -> Served:
    log = tmp_path / f"serve-{port}.log"
    env = relay_env(RELAY_DATABASE_URL=f"sqlite:///{tmp_path / 'relay.db'}")
    served = Served(start_relay(args, env, log, tmp_path), log, port)
    wait_for(served.answers, what=f"relay {' '.join(args)} to answer")
    assert served.process.poll() is None, served.stop()
    return served


@pytest.fixture(scope="module")
def empty_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "relay.toml"
    path.write_text('[log]\nformat = "json"\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def served_with_config_after(tmp_path_factory: pytest.TempPathFactory, empty_config: Path) -> Iterator[Served]:
    tmp_path = tmp_path_factory.mktemp("serve")
    port = free_port()
    served = serve(["serve", "--config", str(empty_config), "--host", "127.0.0.1", "--port", str(port)],
                   tmp_path, port)
    try:
        yield served
    finally:
        served.stop()


def test_serve_takes_config_host_and_port_after_the_command(served_with_config_after: Served) -> None:
    body = httpx.get(served_with_config_after.base_url + "/healthz").json()
    assert body["status"] == "ok" and body["dry_run"] is True


def test_serve_takes_config_before_the_command(tmp_path: Path, empty_config: Path) -> None:
    port = free_port()
    served = serve(["--config", str(empty_config), "serve", "--port", str(port)], tmp_path, port)
    output = served.stop()
    assert f'"port": {port}' in output


def test_a_config_after_the_command_wins_over_relay_config(tmp_path: Path) -> None:
    before, after = tmp_path / "before.toml", tmp_path / "after.toml"
    before.write_text("[server]\nport = 1111\n", encoding="utf-8")
    after.write_text("[server]\nport = 2222\n", encoding="utf-8")
    code, out, _ = invoke(["config", "check", "--config", str(after)], env={"RELAY_CONFIG": str(before)})
    assert code == 0 and "port = 2222" in out and f"# config: {after}" in out
    code, out, _ = invoke(["--config", str(before), "config", "check"])
    assert code == 0 and "port = 1111" in out


def test_start_up_says_once_that_nothing_is_watched_and_logs_carry_no_colour_codes(
    served_with_config_after: Served,
) -> None:
    # A request, so uvicorn's own lines (which carry colour codes for terminals) are logged too.
    httpx.get(served_with_config_after.base_url + "/no-such-page")
    output = served_with_config_after.log.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    warnings = [line["msg"] for line in lines if "nothing to watch" in line["msg"]]
    assert len(warnings) == 1 and "[[feeds]]" in warnings[0] and "[wordpress] secret" in warnings[0]
    assert any(line["logger"].startswith("uvicorn") for line in lines), "uvicorn's lines go through relay's log"
    assert "\x1b[" not in output and "\\u001b" not in output
    assert not any("color_message" in line for line in lines)


def test_nothing_to_watch_is_said_only_when_true() -> None:
    assert load_settings(environ={}).nothing_to_watch() is not None
    assert load_settings(environ={"RELAY_WORDPRESS_SECRET": "a-long-shared-secret"}).nothing_to_watch() is None


def test_json_and_text_logs_drop_terminal_colours() -> None:
    record = logging.makeLogRecord({
        "name": "uvicorn.error", "levelname": "INFO", "msg": "Uvicorn running on \x1b[1mhttp://x\x1b[0m",
        "color_message": "Uvicorn running on \x1b[1m%s\x1b[0m",
    })
    payload = json.loads(JsonFormatter().format(record))
    assert payload["msg"] == "Uvicorn running on http://x"
    assert "color_message" not in payload
    assert "\x1b" not in KeyValueFormatter().format(record)


# -- usage errors name the right spelling --------------------------------------------------------


@pytest.mark.parametrize(("args", "hint"), [
    (["serv"], "Did you mean 'serve'?"),
    (["serve", "--confg", "x.toml"], "Did you mean '--config'?"),
    (["--port", "9000", "serve"], "`relay serve --port ...`"),
    (["--json", "preview", "feed.xml"], "`relay preview --json ...`"),
    (["config", "chek"], "Did you mean 'check'?"),
    (["preview", "feed.xml", "--base", "https://x"], "Did you mean '--base-url'?"),
])
def test_usage_errors_name_the_right_spelling(args: list[str], hint: str) -> None:
    code, _, err = invoke(args)
    assert code == 2
    assert hint in err, err


# -- config check: passwords hidden, the database tried, bad secrets refused ---------------------


def test_config_check_never_prints_a_password_of_any_url(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text(
        '[database]\nurl = "postgresql://relay:Db-Pass-Word-42@127.0.0.1:1/relay"\n'
        '[[feeds]]\nurl = "https://reader:Feed-Pass-77@blog.example/feed/"\n', encoding="utf-8")
    code, out, err = invoke(["config", "check", "--config", str(config)])
    assert "Db-Pass-Word-42" not in out + err and "Feed-Pass-77" not in out + err
    assert 'url = "postgresql://relay:********@127.0.0.1:1/relay"' in out
    assert 'url = "https://reader:********@blog.example/feed/"' in out
    assert code == 1, "the database does not answer on port 1"
    assert "does not answer" in out and "Check database.url" in out


def test_config_check_reports_a_sqlite_file_that_does_not_exist_yet_without_creating_it(tmp_path: Path) -> None:
    db = tmp_path / "later.db"
    code, out, _ = invoke(["config", "check"], env={"RELAY_DATABASE_URL": f"sqlite:///{db}"})
    assert code == 0 and "does not exist yet" in out and "# OK" in out
    assert not db.exists()
    assert invoke(["migrate"], env={"RELAY_DATABASE_URL": f"sqlite:///{db}"})[0] == 0
    code, out, _ = invoke(["config", "check"], env={"RELAY_DATABASE_URL": f"sqlite:///{db}"})
    assert code == 0 and "answers; schema at migration" in out and "(current)" in out


def test_config_check_connects_to_postgresql_and_hides_its_password() -> None:
    with fresh_postgres_schema() as url:
        # Trust authentication accepts any password, so a made-up one still connects.
        with_password = url.replace("://postgres@", "://postgres:Pg-Secret-Word@", 1)
        assert "Pg-Secret-Word" in with_password, "RELAY_TEST_DATABASE_URL is expected as postgresql://postgres@..."
        code, out, err = invoke(["config", "check"], env={"RELAY_DATABASE_URL": with_password})
        assert code == 0, out + err
        assert "Pg-Secret-Word" not in out + err
        assert "answers; it is empty: relay serve will create the schema" in out
        assert invoke(["migrate"], env={"RELAY_DATABASE_URL": with_password})[0] == 0
        code, out, _ = invoke(["config", "check"], env={"RELAY_DATABASE_URL": with_password})
        assert code == 0 and "(current)" in out and "Pg-Secret-Word" not in out


def test_a_whsec_secret_that_is_not_base64_is_refused_with_the_fix() -> None:
    code, out, err = invoke(["config", "check"], env={"RELAY_WORDPRESS_SECRET": "whsec_not*base64!!"})
    assert code == 2 and "# OK" not in out
    assert "config error in wordpress.secret" in err and "openssl rand -base64 32" in err
    assert "not*base64" not in err, "the secret itself is never echoed"
    assert invoke(["config", "check"], env={"RELAY_WORDPRESS_SECRET": "whsec_c2VjcmV0LWtleS1ieXRlcw=="})[0] == 0


def test_postgresql_needs_nothing_beyond_the_readme_install() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(dep.startswith("psycopg") for dep in project["dependencies"]), \
        "a postgresql:// URL must work after `pip install -e .`"


# -- preview shows exactly what relay would post -------------------------------------------------


def _rss(items: str, *, link: str = "https://boulangerie.example/") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Boulangerie</title>'
            f"<link>{link}</link><description>d</description>{items}</channel></rss>").encode()


def test_preview_marks_an_entry_that_repeats_a_guid_as_not_posted(tmp_path: Path) -> None:
    repeated = rss_item(2).replace("recette-2", "recette-2-bis")  # same GUID ?p=1002, another link
    feed = tmp_path / "feed.xml"
    feed.write_bytes(_rss(rss_item(1) + rss_item(2) + repeated))
    code, out, _ = invoke(["preview", str(feed), "--json"])
    assert code == 0
    rows: list[dict[str, Any]] = [json.loads(line) for line in out.splitlines()]
    assert [row["post"] for row in rows] == [True, True, False]
    assert "same GUID" in rows[2]["why"] and "text" not in rows[2]
    code, out, _ = invoke(["preview", str(feed)])
    assert out.count("/280)") == 2 and out.count("not posted: same GUID") == 1


def test_preview_of_relative_links_without_a_base_fails_and_says_how(tmp_path: Path) -> None:
    item = "<item><title>Pain</title><link>/2026/pain/</link><guid>/2026/pain/</guid></item>"
    feed = tmp_path / "relative.xml"
    feed.write_bytes(_rss(item, link="/"))
    code, out, err = invoke(["preview", str(feed)])
    assert code == 1 and out == ""
    assert "--base-url https://" in err
    code, out, _ = invoke(["preview", str(feed), "--base-url", "https://boulangerie.example/", "--json"])
    assert code == 0 and json.loads(out)["url"] == "https://boulangerie.example/2026/pain/"


def test_preview_of_an_unreadable_source_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>Not a feed</p></body></html>", encoding="utf-8")
    code, _, err = invoke(["preview", str(page)])
    assert code == 1 and err.startswith("relay: ")
    with FeedServer() as server:
        server.set("/feed/", body=rss_feed(range(1, 3)), headers={"Content-Type": "application/rss+xml"})
        code, _, err = invoke(["preview", server.url("/gone/")])
        assert code == 1 and "404" in err


# -- /docs without internet ----------------------------------------------------------------------


def test_docs_page_uses_only_assets_served_by_relay(served_with_config_after: Served) -> None:
    base = served_with_config_after.base_url
    page = httpx.get(base + "/docs").text
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    for asset, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")):
        assert f"/docs/assets/{asset}" in page
        response = httpx.get(f"{base}/docs/assets/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert len(response.content) > 50_000
    assert httpx.get(base + "/docs/assets/..%2Fsecret").status_code == 404
    assert httpx.get(base + "/docs/assets/swagger-editor.js").status_code == 404
    assert "Apache License" in httpx.get(base + "/docs/assets/LICENSE").text, "Swagger UI's licence is served with it"


@pytest.mark.slow
def test_docs_page_renders_in_chromium_with_the_internet_cut_off(served_with_config_after: Served) -> None:
    sync_playwright = _playwright()
    base = served_with_config_after.base_url
    refused: list[str] = []

    def only_relay(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_relay)
            page.goto(base + "/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
            assert "relay" in page.locator(".swagger-ui .info .title").inner_text()
            page.wait_for_selector("text=/healthz", timeout=15_000)
        finally:
            browser.close()
    assert refused == [], f"/docs asked for addresses outside relay: {refused}"
