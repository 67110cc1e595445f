"""The whole path over real HTTP: a feed server, relay, and the X API emulator.

Same test on SQLite and on PostgreSQL: baseline on first sight, then exactly the new
entries, each once, valid by X's count and carrying its UTM-tagged link.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from relay.config.settings import load_settings
from relay.core.length import weighted_length
from relay.store.engine import apply_migrations
from relay.testing.x_emulator import EmulatorServer
from relay.wiring import build_runtime
from tests.feed_server import FeedServer
from tests.feeds import rss_feed

FAKE_CREDENTIALS = {
    "RELAY_X_CONSUMER_KEY": "ck-e2e",
    "RELAY_X_CONSUMER_SECRET": "cs-e2e",
    "RELAY_X_ACCESS_TOKEN": "at-e2e",
    "RELAY_X_ACCESS_TOKEN_SECRET": "ats-e2e",
}


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def poll_once(settings_env: dict[str, str], tmp_config: str) -> None:
    settings = load_settings(tmp_config, environ=settings_env)
    runtime = build_runtime(settings)
    apply_migrations(runtime.store.engine)

    async def run() -> None:
        try:
            await runtime.worker.run_once()
        finally:
            await runtime.aclose()

    asyncio.run(run())


def test_feed_to_x_baseline_then_new_entries_once(
    tmp_path, database_url: str, emulator: EmulatorServer, feed_server: FeedServer
) -> None:
    feed_server.set("/feed/", body=rss_feed(range(1, 4)), headers={"Content-Type": "application/rss+xml"})
    config = tmp_path / "relay.toml"
    config.write_text(f'[[feeds]]\nurl = "{feed_server.url("/feed/")}"\n', encoding="utf-8")
    env = {"RELAY_DATABASE_URL": database_url, "RELAY_X_API_BASE_URL": emulator.base_url, **FAKE_CREDENTIALS}

    poll_once(env, str(config))
    assert emulator.tweets() == [], "the entries already in the feed are a baseline, not posted"

    feed_server.set("/feed/", body=rss_feed(range(1, 6)), headers={"Content-Type": "application/rss+xml"})
    poll_once(env, str(config))
    tweets = emulator.tweets()
    assert len(tweets) == 2
    for tweet, n in zip(tweets, (4, 5), strict=True):
        assert weighted_length(tweet.text) <= 280
        link = next(word for word in tweet.text.split() if word.startswith("http"))
        parts = urlsplit(link)
        assert parts.path == f"/2026/11/recette-{n}/"
        query = parse_qs(parts.query)
        assert query["utm_source"] == ["twitter"] and query["utm_medium"] == ["social"]
        assert f"n°{n}" in tweet.text

    poll_once(env, str(config))
    assert len(emulator.tweets()) == 2, "polling again posts nothing more"


def test_backfill_posts_the_newest_entries_on_first_sight(
    tmp_path, sqlite_url: str, emulator: EmulatorServer, feed_server: FeedServer
) -> None:
    feed_server.set("/feed/", body=rss_feed(range(1, 6)), headers={"Content-Type": "application/rss+xml"})
    config = tmp_path / "relay.toml"
    config.write_text(f'[[feeds]]\nurl = "{feed_server.url("/feed/")}"\nbackfill = 2\n', encoding="utf-8")
    env = {"RELAY_DATABASE_URL": sqlite_url, "RELAY_X_API_BASE_URL": emulator.base_url, **FAKE_CREDENTIALS}
    poll_once(env, str(config))
    texts = [t.text for t in emulator.tweets()]
    assert len(texts) == 2
    assert "n°4" in texts[0] and "n°5" in texts[1], "newest two, oldest first"
