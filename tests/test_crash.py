"""Exactly once, even when relay is killed: SIGKILL at random moments while 100 posts flow.

The real `relay serve` runs as a child process against a real feed server and the X
emulator (which lives in this test process, so it survives every kill). X is slow on
purpose, and sometimes accepts a tweet but loses the answer, so kills land before, during
and after X accepted. At the end every post is on X exactly once, and relay never sent
the same text twice.
"""

from __future__ import annotations

import functools
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.store.engine import make_engine
from relay.store.outbox import SENT
from relay.store.store import Store
from relay.testing.x_emulator import EmulatorServer
from tests.feed_server import FeedServer
from tests.feeds import rss_feed
from tests.processes import answers_or_died, free_port, relay_env, start_relay, wait_for

FEEDS = 20
PER_FEED = 5
TOTAL = FEEDS * PER_FEED


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(tweet_rate_limit=100_000) as server:
        for n in range(TOTAL + 50):
            if n % 9 == 4:  # X posts it, then the answer is lost
                server.inject(accept_then_fail=True, status=503, delay=0.2)
            else:
                server.inject(delay=0.04)
        yield server


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        for n in range(FEEDS):
            server.set(f"/blog{n}/feed/", body=rss_feed(range(1, PER_FEED + 1), host=f"blog{n}.fr"))
        yield server


def write_config(tmp_path: Path, feeds: FeedServer) -> Path:
    blocks = "".join(f'[[feeds]]\nurl = "{feeds.url(f"/blog{n}/feed/")}"\nbackfill = {PER_FEED}\n'
                     for n in range(FEEDS))
    config = tmp_path / "relay.toml"
    config.write_text(
        "[polling]\npublish_interval_seconds = 0.2\nmax_posts_per_round = 50\nspacing_minutes = 0\n"
        "max_age_days = 3650\nfetch_pages = false\n[publishing]\nmonthly_budget_usd = 0\n"
        '[fetch]\nimages = false\n[log]\nformat = "text"\n' + blocks,
        encoding="utf-8",
    )
    return config


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_doubles_nothing(
    tmp_path: Path, emulator: EmulatorServer, feeds: FeedServer
) -> None:
    rng = random.Random(20261125)
    env = relay_env(
        RELAY_CONFIG=str(write_config(tmp_path, feeds)),
        RELAY_DATABASE_URL=f"sqlite:///{tmp_path / 'relay.db'}",
        RELAY_X_API_BASE_URL=emulator.base_url,
        RELAY_X_CONSUMER_KEY="ck", RELAY_X_CONSUMER_SECRET="cs",
        RELAY_X_ACCESS_TOKEN="at", RELAY_X_ACCESS_TOKEN_SECRET="ats",
    )
    kills_mid_flow = 0
    deadline = time.monotonic() + 240
    restarts = 0
    while len(emulator.tweets()) < TOTAL and time.monotonic() < deadline and restarts < 40:
        port = free_port()
        env["RELAY_SERVER_PORT"] = str(port)
        process = start_relay(["serve"], env, tmp_path / f"serve-{restarts}.log", tmp_path)
        # Kill at a random moment once relay answers: during recovery, polling or posting, not in start-up.
        wait_for(functools.partial(answers_or_died, port, process), timeout=60, what="relay to answer")
        time.sleep(rng.uniform(0.0, 1.5))
        before = len(emulator.tweets())
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        restarts += 1
        if 0 < before < TOTAL:
            kills_mid_flow += 1
    # A last, undisturbed run settles whatever the last kill left half-done.
    env["RELAY_SERVER_PORT"] = str(free_port())
    final_log = tmp_path / "serve-final.log"
    process = start_relay(["serve"], env, final_log, tmp_path)
    store = Store(make_engine(f"sqlite:///{tmp_path / 'relay.db'}"))
    try:
        wait_for(lambda: len(store.list_deliveries([SENT])) == TOTAL, timeout=120,
                 what=f"all {TOTAL} deliveries sent")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)

    assert kills_mid_flow >= 3, f"only {kills_mid_flow} kills landed while posts were flowing"
    tweets = emulator.tweets()
    links = Counter(next(w for w in t.text.split() if w.startswith("http")).split("?")[0] for t in tweets)
    assert len(tweets) == TOTAL, f"{len(tweets)} tweets for {TOTAL} posts"
    assert len(links) == TOTAL and max(links.values()) == 1, "each post exactly once: 0 lost, 0 doubled"
    duplicates = [r for r in emulator.requests() if r["path"] == "/2/tweets" and r["status"] == 403]
    assert duplicates == [], "relay never sent a text X already had"
    by_text = {t.text: t.id for t in tweets}
    for delivery in store.list_deliveries():
        assert delivery.status == SENT
        assert by_text[delivery.text] == delivery.tweet_id, "the stored tweet id is the one X holds"
    print(f"\ncrash test: {restarts} SIGKILLs, {kills_mid_flow} while posting; {TOTAL} posts, each once")
    store.engine.dispose()
