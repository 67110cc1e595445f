"""Manual republish over real HTTP (API and CLI), address checks, and the evergreen re-share."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from relay.cli.main import cli
from relay.testing.x_emulator import EmulatorServer
from tests.feed_server import FeedServer
from tests.feeds import rss_feed
from tests.processes import wait_for
from tests.test_webhook_route import RelayApp, relay_app

TOKEN = "api-token-for-tests-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def pages() -> Iterator[FeedServer]:
    with FeedServer() as server:
        base = server.url("")
        server.set("/billet/", content_type="text/html", body=f"""<html><head>
            <title>Billet | Plomberie</title><meta property="og:title" content="Bien choisir son chauffe-eau">
            <meta property="og:description" content="Électrique, thermodynamique ou gaz : nos conseils.">
            <link rel="canonical" href="{base}/billet/"></head><body></body></html>""")
        server.set("/feed/", body=rss_feed(range(1, 3), host="127.0.0.1"))
        yield server


@pytest.fixture
def relay(tmp_path: Path, emulator: EmulatorServer, pages: FeedServer) -> Iterator[RelayApp]:
    config = f'[fetch]\nallow_hosts = ["127.0.0.1"]\n[[feeds]]\nurl = "{pages.url("/feed/")}"\nbackfill = 1\n'
    with relay_app(tmp_path, emulator, config=config, RELAY_API_TOKEN=TOKEN) as app:
        yield app


def sent_post_id(relay: RelayApp, emulator: EmulatorServer) -> int:
    wait_for(lambda: len(emulator.tweets()) == 1, what="the backfilled post on X")
    [delivery] = relay.runtime.store.list_deliveries()
    return delivery.post_id


def test_republish_by_id_posts_a_different_text(relay: RelayApp, emulator: EmulatorServer) -> None:
    post_id = sent_post_id(relay, emulator)
    texts = set()
    for _ in range(3):
        answer = httpx.post(f"{relay.url}/api/posts/{post_id}/republish", headers=AUTH)
        assert answer.status_code == 202, answer.text
        texts.add(answer.json()["text"])
    wait_for(lambda: len(emulator.tweets()) == 4, what="three republished tweets")
    on_x = [t.text for t in emulator.tweets()]
    assert len(set(on_x)) == 4, "every republish differs from every earlier tweet"
    assert all("utm_content=republish-" in text for text in on_x[1:])


def test_republish_needs_the_token_and_a_known_post(relay: RelayApp, emulator: EmulatorServer) -> None:
    post_id = sent_post_id(relay, emulator)
    assert httpx.post(f"{relay.url}/api/posts/{post_id}/republish").status_code == 401
    wrong = httpx.post(f"{relay.url}/api/posts/{post_id}/republish", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    missing = httpx.post(f"{relay.url}/api/posts/9999/republish", headers=AUTH)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert httpx.post(f"{relay.url}/api/republish", json={"url": "https://x.fr/"}).status_code == 401


def test_republish_by_url_reads_the_page_and_posts(relay: RelayApp, emulator: EmulatorServer,
                                                   pages: FeedServer) -> None:
    sent_post_id(relay, emulator)
    answer = httpx.post(f"{relay.url}/api/republish", json={"url": pages.url("/billet/")}, headers=AUTH)
    assert answer.status_code == 202, answer.text
    assert answer.json()["text"].startswith("Bien choisir son chauffe-eau")
    wait_for(lambda: len(emulator.tweets()) == 2, what="the page's tweet")
    again = httpx.post(f"{relay.url}/api/republish", json={"url": pages.url("/billet/")}, headers=AUTH)
    assert again.json()["post_id"] == answer.json()["post_id"], "the same page is the same post"
    assert again.json()["text"] != answer.json()["text"]


@pytest.mark.parametrize("url", ["http://127.0.0.2:9/", "http://169.254.169.254/latest/meta-data/",
                                 "http://10.0.0.1/", "ftp://example.fr/"])
def test_republish_by_url_refuses_private_addresses(relay: RelayApp, url: str) -> None:
    answer = httpx.post(f"{relay.url}/api/republish", json={"url": url}, headers=AUTH)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "refusing" in answer.json()["detail"] or "not an http" in answer.json()["detail"]


def test_openapi_describes_the_endpoints(relay: RelayApp) -> None:
    spec = httpx.get(f"{relay.url}/openapi.json").json()
    for path in ("/api/posts/{post_id}/republish", "/api/republish", "/hooks/wordpress"):
        assert "post" in spec["paths"][path], path


def test_cli_republish_by_id(relay: RelayApp, emulator: EmulatorServer, tmp_path: Path) -> None:
    post_id = sent_post_id(relay, emulator)
    env = {"RELAY_DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}"}
    result = CliRunner().invoke(cli, ["republish", str(post_id)], obj={}, env=env)
    assert result.exit_code == 0, result.output
    assert "queued delivery" in result.stdout
    relay.runtime.worker.wake()
    wait_for(lambda: len(emulator.tweets()) == 2, timeout=70, what="the CLI's republish on X")
    missing = CliRunner().invoke(cli, ["republish", "4242"], obj={}, env=env)
    assert missing.exit_code == 1 and "no post #4242" in missing.output


def test_evergreen_reshares_the_most_clicked_post_of_a_quiet_blog(relay: RelayApp, emulator: EmulatorServer) -> None:
    service = relay.runtime.service
    post_id = sent_post_id(relay, emulator)
    later = datetime.now(UTC) + timedelta(days=20)
    shared = service.evergreen(later, after=timedelta(days=14), min_gap=timedelta(days=10),
                               templates_for=relay.runtime.republish_templates)
    assert [r.post_id for r in shared] == [post_id]
    again = service.evergreen(later + timedelta(days=1), after=timedelta(days=14), min_gap=timedelta(days=10),
                              templates_for=relay.runtime.republish_templates)
    assert again == [], "the blog was just shared: not quiet any more"
    too_soon = service.evergreen(later + timedelta(days=15), after=timedelta(days=14), min_gap=timedelta(days=90),
                                 templates_for=relay.runtime.republish_templates)
    assert too_soon == [], "never the same post twice within min_gap"
