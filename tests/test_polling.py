"""Polling over real HTTP: conditional GET, redirects, gone feeds, backoff, dedup, holds, pages.

A local feed server plays the blog; relay runs its real poller and store (SQLite), with a
dry-run publisher so every queued tweet is visible in the outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from relay.cli.main import cli
from relay.config.settings import load_settings
from relay.store.engine import apply_migrations
from relay.wiring import Runtime, build_runtime
from tests.feed_server import FeedServer
from tests.feeds import rss_feed


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def make_runtime(tmp_path: Path, server: FeedServer, extra: str = "") -> tuple[Runtime, Path]:
    config = tmp_path / "relay.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "relay.db"}"\n'
        f'[polling]\nfetch_pages = false\n{extra}\n'
        f'[[feeds]]\nurl = "{server.url("/feed/")}"\n',
        encoding="utf-8",
    )
    runtime = build_runtime(load_settings(config, environ={}))
    apply_migrations(runtime.store.engine)
    return runtime, config


LOOPS: dict[int, asyncio.AbstractEventLoop] = {}


@pytest.fixture(autouse=True)
def one_loop_per_test() -> Iterator[None]:
    """The runtime's HTTP client belongs to one event loop: every poll of a test runs on it."""
    yield
    for loop in LOOPS.values():
        loop.close()
    LOOPS.clear()


def poll(runtime: Runtime, now: datetime | None = None, *, only_due: bool = False) -> list:
    loop = LOOPS.setdefault(id(runtime), asyncio.new_event_loop())
    return loop.run_until_complete(runtime.poller.poll(now or datetime.now(UTC), only_due=only_due))


def queued_texts(runtime: Runtime) -> list[str]:
    return [d.text for d in runtime.store.list_deliveries()]


def test_etag_304_costs_no_parse_and_posts_nothing(tmp_path: Path, server: FeedServer) -> None:
    server.set("/feed/", body=rss_feed(range(1, 4)), etag=True)
    runtime, _ = make_runtime(tmp_path, server)
    poll(runtime)
    [outcome] = poll(runtime)
    assert outcome.not_modified
    assert server.requests_for("/feed/")[-1].headers.get("if-none-match") == server.etag_for("/feed/")
    assert queued_texts(runtime) == []


def test_new_guid_same_link_and_edited_title_are_not_posted_again(tmp_path: Path, server: FeedServer) -> None:
    server.set("/feed/", body=rss_feed(range(1, 3)))
    runtime, _ = make_runtime(tmp_path, server)
    poll(runtime)
    server.set("/feed/", body=rss_feed(range(1, 4)))
    poll(runtime)
    assert len(queued_texts(runtime)) == 1
    edited = rss_feed(range(1, 4)).replace(b"Recette n\xc2\xb03 :", b"Recette n\xc2\xb03 (mise \xc3\xa0 jour) :")
    moved_guids = edited.replace(b"?p=100", b"?p=900")
    server.set("/feed/", body=moved_guids)
    poll(runtime)
    assert len(queued_texts(runtime)) == 1, "an edit or a rewritten GUID is the same post"


def test_permanent_redirect_updates_the_url_temporary_does_not(tmp_path: Path, server: FeedServer) -> None:
    server.set("/new-feed/", body=rss_feed(range(1, 3)))
    server.set("/tmp-feed/", body=rss_feed(range(1, 3)))
    server.redirect("/feed/", "/tmp-feed/", status=302)
    runtime, _ = make_runtime(tmp_path, server)
    poll(runtime)
    assert runtime.store.list_feeds()[0].url == server.url("/feed/")
    server.redirect("/feed/", "/new-feed/", status=301)
    poll(runtime)
    assert runtime.store.list_feeds()[0].url == server.url("/new-feed/")
    poll(runtime)
    assert server.requests_for("/new-feed/")[-1].path == "/new-feed/"


def test_gone_feed_is_disabled_and_says_so(tmp_path: Path, server: FeedServer) -> None:
    server.set("/feed/", body="", status=410)
    runtime, config = make_runtime(tmp_path, server)
    poll(runtime)
    [feed] = runtime.store.list_feeds()
    assert feed.status == "gone" and "410" in (feed.last_error or "")
    assert poll(runtime) == [], "a gone feed is not fetched again"
    result = CliRunner().invoke(cli, ["--config", str(config), "feeds"], obj={}, env={})
    assert "status: gone" in result.stdout


def test_429_waits_for_retry_after_and_errors_back_off(tmp_path: Path, server: FeedServer) -> None:
    server.set("/feed/", body="", status=429, retry_after=3600)
    runtime, _ = make_runtime(tmp_path, server)
    now = datetime.now(UTC)
    poll(runtime, now)
    feed = runtime.store.list_feeds()[0]
    assert feed.next_check_at >= now + timedelta(minutes=59)
    server.set("/feed/", body="<rss><channel><item>", status=200)
    delays = []
    for _ in range(3):
        poll(runtime, now)
        feed = runtime.store.list_feeds()[0]
        delays.append(feed.next_check_at - now)
    assert feed.error_count == 4 and feed.last_error
    assert delays[0] < delays[1] < delays[2], "each error in a row waits longer"


def test_a_broken_feed_does_not_stop_the_others(tmp_path: Path, server: FeedServer) -> None:
    server.set("/feed/", body=b"<rss><channel><title>x</title><item><title>&bogus;</ti", status=200)
    server.set("/good/", body=rss_feed(range(1, 2)))
    config = tmp_path / "relay.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n[polling]\nfetch_pages = false\n'
        f'[[feeds]]\nurl = "{server.url("/feed/")}"\n[[feeds]]\nurl = "{server.url("/good/")}"\n',
        encoding="utf-8",
    )
    runtime = build_runtime(load_settings(config, environ={}))
    apply_migrations(runtime.store.engine)
    outcomes = {o.feed_url: o for o in poll(runtime)}
    assert outcomes[server.url("/feed/")].error
    assert outcomes[server.url("/good/")].error is None
    assert runtime.store.list_feeds()[1].baseline_at is not None


def test_too_many_new_entries_are_held_then_released(tmp_path: Path, server: FeedServer) -> None:
    server.set("/feed/", body=rss_feed(range(1, 3)))
    runtime, config = make_runtime(tmp_path, server, "hold_threshold = 3\nmax_age_days = 3650")
    poll(runtime)
    server.set("/feed/", body=rss_feed(range(1, 8), host="boulangerie.example"))
    poll(runtime)
    [feed] = runtime.store.list_feeds()
    assert feed.status == "held" and "new entries at once" in (feed.last_error or "")
    assert queued_texts(runtime) == []
    listing = CliRunner().invoke(cli, ["--config", str(config), "feeds"], obj={}, env={}).stdout
    assert "status: held" in listing and "relay feeds release" in listing
    result = CliRunner().invoke(cli, ["--config", str(config), "feeds", "release", str(feed.id)], obj={}, env={})
    assert result.exit_code == 0, result.output
    assert "5 held entries queued" in result.stdout
    assert len(queued_texts(runtime)) == 5
    assert runtime.store.list_feeds()[0].status == "active"


def test_page_metadata_gives_canonical_link_image_and_seo_warning(tmp_path: Path, server: FeedServer) -> None:
    base = server.url("")

    def feed(numbers: list[int]) -> str:
        items = "".join(
            f"<item><title>Billet {n}</title><link>{base}/p/{n}?from=rss</link><guid>{base}/?p={n}</guid>"
            f"<description>Texte du billet {n}.</description></item>"
            for n in numbers
        )
        channel = f"<channel><title>B</title><link>{base}/</link>{items}</channel>"
        return f"<?xml version='1.0'?><rss version='2.0'>{channel}</rss>"

    server.set("/feed/", body=feed([1]))
    server.set("/p/2", body=f"""<html><head><link rel="canonical" href="{base}/billet-2/">
      <meta property="og:image" content="{base}/img/2.jpg"><meta property="og:image:alt" content="Le fournil">
      <meta name="twitter:card" content="summary_large_image"></head><body></body></html>""",
               content_type="text/html")
    server.set("/p/3", body="<html><head><title>nu</title></head><body></body></html>", content_type="text/html")
    config = tmp_path / "relay.toml"
    # The pages are on this machine: the guarded fetcher reads them only because the operator allows it.
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n[fetch]\nallow_hosts = ["127.0.0.1"]\n'
                      f'[[feeds]]\nurl = "{server.url("/feed/")}"\n', encoding="utf-8")
    runtime = build_runtime(load_settings(config, environ={}))
    apply_migrations(runtime.store.engine)
    poll(runtime)
    server.set("/feed/", body=feed([1, 2, 3]))
    poll(runtime)
    two, three = runtime.store.list_deliveries()
    assert f"{base}/billet-2/?utm_source=twitter" in two.text, "the canonical address is the one tagged"
    post_two = runtime.store.get_post(two.post_id)
    assert (post_two.image_url, post_two.image_alt) == (f"{base}/img/2.jpg", "Le fournil")
    assert post_two.seo_warnings == ()
    assert runtime.store.get_post(three.post_id).seo_warnings, "no card, no og:image: warned"
    listing = CliRunner().invoke(cli, ["--config", str(config), "feeds"], obj={}, env={}).stdout
    assert "SEO readiness" in listing
    poll(runtime)
    assert len(runtime.store.list_deliveries()) == 2, "the canonical address does not make it a new post"
