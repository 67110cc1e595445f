"""Row 3: a feed entry pointing at relay's own network is never read (page enrichment is guarded).

Before: an entry linking to ``http://127.0.0.1:P/secret`` had its page read with the
unguarded feed client, and the tweet said "INTERNAL-SECRET-PAGE / INTERNAL-ADMIN-DATA".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.config.settings import load_settings
from relay.store.engine import apply_migrations
from relay.wiring import build_runtime
from tests.feed_server import FeedServer
from tests.test_polling import poll

SECRET_PAGE = """<html><head><title>INTERNAL-SECRET-PAGE</title>
<meta property="og:title" content="INTERNAL-SECRET-PAGE">
<meta property="og:description" content="INTERNAL-ADMIN-DATA"></head><body></body></html>"""


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    """A service on relay's own machine that a hostile feed points at."""
    with FeedServer() as server:
        server.set("/secret", body=SECRET_PAGE, content_type="text/html")
        yield server


def _feed(links: list[str]) -> str:
    items = "".join(f"<item><link>{link}</link><guid>{link}</guid></item>" for link in links)
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>F</title>{items}</channel></rss>"


def test_an_entry_linking_to_a_loopback_service_is_not_read(tmp_path: Path, internal: FeedServer) -> None:
    links = [internal.url("/secret"), "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/admin",
             "http://100.100.100.200/latest/meta-data/"]
    with FeedServer() as feeds:
        feeds.set("/feed/", body=_feed([]))
        config = tmp_path / "relay.toml"
        config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "r.db"}"\n[polling]\nmax_posts_per_round = 10\n'
                          f'hold_threshold = 10\n[[feeds]]\nurl = "{feeds.url("/feed/")}"\n', encoding="utf-8")
        runtime = build_runtime(load_settings(config, environ={}))
        apply_migrations(runtime.store.engine)
        poll(runtime)  # first sight: the baseline
        feeds.set("/feed/", body=_feed(links))
        poll(runtime)
    texts = [delivery.text for delivery in runtime.store.list_deliveries()]
    assert len(texts) == len(links), "every entry is still posted, with what the feed says"
    assert not any("INTERNAL" in text for text in texts)
    assert internal.requests_for("/secret") == [], "relay asked the internal service for its page"
