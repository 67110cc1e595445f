"""Many relay instances on one PostgreSQL: work spreads, nothing is done twice, a dead one is covered.

Needs PostgreSQL (RELAY_TEST_DATABASE_URL): SQLite is one process by design.
"""

from __future__ import annotations

import re
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from relay.store.engine import apply_migrations, make_engine
from relay.store.outbox import SENT
from relay.store.schema import feeds
from relay.store.store import Store
from relay.testing.x_emulator import EmulatorServer
from tests.feed_server import FeedServer
from tests.feeds import rss_feed
from tests.processes import relay_env, start_relay, wait_for

FEEDS = 500
NEW_POSTS = 300


def test_concurrent_claims_never_share_a_feed(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    apply_migrations(engine)
    store = Store(engine)
    now = datetime.now(UTC)
    rows = store.sync_feeds([f"https://blog{n}.fr/feed/" for n in range(200)], now)
    ids = [r.id for r in rows]
    taken: list[list[int]] = [[] for _ in range(4)]

    def claimer(slot: int) -> None:
        while claimed := store.claim_feeds(ids, now, limit=7, lease=timedelta(minutes=5), instance=f"i{slot}"):
            taken[slot] += [feed.id for feed in claimed]

    threads = [threading.Thread(target=claimer, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [feed_id for slot in taken for feed_id in slot]
    assert sorted(everything) == sorted(ids), "every feed claimed exactly once"
    assert sum(1 for slot in taken if slot) >= 2, "the claims spread over the claimers"
    assert store.claim_feeds(ids, now + timedelta(minutes=6), limit=500, lease=timedelta(minutes=5),
                             instance="late") != [], "an expired lease frees the feed"
    engine.dispose()


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(tweet_rate_limit=100_000) as server:
        yield server


@pytest.fixture
def farm() -> Iterator[FeedServer]:
    with FeedServer() as server:
        for n in range(FEEDS):
            server.set(f"/b{n}/feed/", body=rss_feed(range(1, 3), host=f"blog{n}.fr"), etag=True)
        yield server


@pytest.mark.slow
def test_three_workers_share_500_feeds_and_survive_a_sigkill(
    tmp_path: Path, postgres_url: str, emulator: EmulatorServer, farm: FeedServer
) -> None:
    blocks = "".join(f'[[feeds]]\nurl = "{farm.url(f"/b{n}/feed/")}"\n' for n in range(FEEDS))
    config = tmp_path / "relay.toml"
    config.write_text(
        "[polling]\ninterval_minutes = 0.05\njitter = 0\npublish_interval_seconds = 0.5\nlease_seconds = 8\n"
        # A request to X ends within 1 + 10 s: the post lease must outlast it (settings refuse less than 16 s).
        "max_age_days = 3650\nfetch_pages = false\n[publishing]\nlease_seconds = 16\nmonthly_budget_usd = 0\n"
        "[x]\ntimeout_seconds = 1\n"
        '[fetch]\nimages = false\n[log]\nformat = "text"\n' + blocks,
        encoding="utf-8",
    )
    env = relay_env(
        RELAY_CONFIG=str(config), RELAY_DATABASE_URL=postgres_url, RELAY_X_API_BASE_URL=emulator.base_url,
        RELAY_X_CONSUMER_KEY="ck", RELAY_X_CONSUMER_SECRET="cs", RELAY_X_ACCESS_TOKEN="at",
        RELAY_X_ACCESS_TOKEN_SECRET="ats",
    )
    engine = make_engine(postgres_url)
    apply_migrations(engine)
    store = Store(engine)
    logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
    workers = [start_relay(["worker"], env, log, tmp_path) for log in logs]
    try:
        def baselined() -> bool:
            with engine.connect() as conn:
                return conn.execute(select(func.count()).where(feeds.c.baseline_at.is_not(None))).scalar() == FEEDS

        wait_for(baselined, timeout=120, what="a baseline of all 500 feeds")
        assert emulator.tweets() == []
        for n in range(NEW_POSTS):
            farm.set(f"/b{n}/feed/", body=rss_feed(range(1, 4), host=f"blog{n}.fr"), etag=True)
        wait_for(lambda: len(emulator.tweets()) >= NEW_POSTS // 3, timeout=120, what="a third of the posts")
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        killed_at = len(emulator.tweets())
        try:
            wait_for(lambda: len(store.list_deliveries([SENT])) == NEW_POSTS, timeout=180,
                     what="the survivors to post everything")
        except AssertionError:
            print("\ndeliveries:", store.delivery_counts(), "tweets:", len(emulator.tweets()))
            stuck = [d for d in store.list_deliveries() if d.status != SENT][:5]
            for delivery in stuck:
                print(delivery, store.attempts_for(delivery.id))
            with engine.connect() as conn:
                print("feeds with a new entry:", conn.execute(
                    select(func.count()).where(feeds.c.last_new_entry_at.is_not(None))).scalar())
                leased = select(feeds.c.id, feeds.c.lease_until, feeds.c.claimed_by, feeds.c.last_error)
                print("feeds leased:", conn.execute(leased.where(feeds.c.lease_until.is_not(None)).limit(5)).all())
            raise
    finally:
        for process in workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)

    links = Counter(next(w for w in t.text.split() if w.startswith("http")).split("?")[0]
                    for t in emulator.tweets())
    assert len(links) == NEW_POSTS and max(links.values()) == 1, "each new post exactly once"
    assert len(emulator.tweets()) == NEW_POSTS
    assert killed_at < NEW_POSTS, "the kill landed while posts were still flowing"
    ingested = [len(re.findall(r'msg="feed ingested"', log.read_text(encoding="utf-8"))) for log in logs]
    assert all(count > 0 for count in ingested), f"fetches spread over all three workers: {ingested}"
    print(f"\nthree workers: feeds ingested per worker {ingested}; worker 0 killed at {killed_at} tweets")
    engine.dispose()
