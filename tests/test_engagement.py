"""X engagement snapshots: the schedule, and real reads from the X emulator over HTTP.

Metrics are set through the emulator's control API (``POST /_emulator/metrics``); relay reads
them with the real tweepy publisher. Reads are billed, so the tests also count the calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select, update

from relay.adapters.x import DryRunPublisher, XCredentials, XPublisher
from relay.metrics.engagement import CHECKPOINTS, EngagementRefresher, due_reads, refresh_engagement
from relay.store.metrics_store import SentTweet
from relay.store.schema import deliveries, engagement_snapshots
from relay.testing.x_emulator import EmulatorServer
from tests.tracking_app import StubRuntime, make_runtime, seed_post

CREDENTIALS = XCredentials("ck-metrics", "cs-metrics", "at-metrics", "ats-metrics")
SENT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def x() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


def tweet(checkpoints: frozenset[str] = frozenset(), sent_at: datetime = SENT) -> SentTweet:
    return SentTweet(delivery_id=1, tweet_id="1", sent_at=sent_at, checkpoints_taken=checkpoints)


# -- the schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "taken", "expected"),
    [
        (timedelta(minutes=59), frozenset(), None),
        (timedelta(hours=1), frozenset(), "1h"),
        (timedelta(hours=5), frozenset({"1h"}), None),
        (timedelta(hours=24), frozenset({"1h"}), "24h"),
        (timedelta(days=8), frozenset({"1h"}), "7d"),  # relay was down: the stale 24 h read is skipped
        (timedelta(days=8), frozenset({"7d"}), None),
        (timedelta(days=29, hours=22), frozenset({"7d"}), None),
        (timedelta(days=29, hours=23), frozenset({"7d"}), "30d"),  # an hour early: X still gives link clicks
        (timedelta(days=45), frozenset({"30d"}), None),
    ],
)
def test_snapshots_are_taken_at_1h_24h_7d_and_30d(age: timedelta, taken: frozenset[str], expected: str | None) -> None:
    due = due_reads([tweet(taken)], SENT + age)
    assert [d.checkpoint for d in due] == ([expected] if expected else [])


def test_the_checkpoints_are_the_documented_ones() -> None:
    assert [name for name, _ in CHECKPOINTS] == ["1h", "24h", "7d", "30d"]


# -- reading X ------------------------------------------------------------------------------


def set_metrics(x: EmulatorServer, tweet_id: str, public: dict[str, int], private: dict[str, int]) -> None:
    answer = httpx.post(f"{x.base_url}/_emulator/metrics",
                        json={"id": tweet_id, "public_metrics": public, "non_public_metrics": private})
    answer.raise_for_status()


def lookups(x: EmulatorServer) -> list[list[str]]:
    """The ids asked for in each GET /2/tweets, in order."""
    return [parse_qs(str(r["query"]))["ids"][0].split(",") for r in x.requests()
            if r["method"] == "GET" and r["path"] == "/2/tweets"]


def snapshots(runtime: StubRuntime) -> list[dict[str, object]]:
    with runtime.store.engine.connect() as conn:
        rows = conn.execute(select(engagement_snapshots).order_by(engagement_snapshots.c.id))
        return [dict(r._mapping) for r in rows]


def test_due_tweets_are_read_from_x_and_stored(database_url: str, x: EmulatorServer) -> None:
    publisher = XPublisher(CREDENTIALS, api_base_url=x.base_url)
    runtime = make_runtime(database_url, publisher=publisher)
    now = datetime.now(UTC)
    due_id = publisher.publish("Due: an article https://blog.example/a").tweet_id
    young_id = publisher.publish("Too young: https://blog.example/b").tweet_id
    set_metrics(x, due_id, {"impression_count": 1000, "like_count": 12, "retweet_count": 3, "reply_count": 2,
                            "quote_count": 1, "bookmark_count": 4},
                {"impression_count": 1000, "url_link_clicks": 57, "user_profile_clicks": 6})
    seed_post(runtime, 1, tweet_ids=[due_id], sent_at=now - timedelta(hours=2))
    seed_post(runtime, 2, tweet_ids=[young_id], sent_at=now - timedelta(minutes=10))
    seed_post(runtime, 3, sent_at=now - timedelta(hours=2), dry_run=True)

    stored = asyncio.run(refresh_engagement(runtime, now))  # type: ignore[arg-type]

    assert stored == 1
    assert lookups(x) == [[due_id]], "only the due, real tweet is read; dry-runs and young tweets are not"
    [snap] = snapshots(runtime)
    assert snap["checkpoint"] == "1h" and snap["found"] is True
    assert (snap["impressions"], snap["likes"], snap["retweets"], snap["replies"], snap["quotes"],
            snap["bookmarks"]) == (1000, 12, 3, 2, 1, 4)
    assert (snap["url_link_clicks"], snap["user_profile_clicks"]) == (57, 6)
    assert asyncio.run(refresh_engagement(runtime, now + timedelta(minutes=5))) == 0  # type: ignore[arg-type]
    assert len(lookups(x)) == 1, "nothing new is due: X is not asked again"


def test_reads_are_batched_by_100_ids(sqlite_url: str, x: EmulatorServer) -> None:
    publisher = XPublisher(CREDENTIALS, api_base_url=x.base_url)
    runtime = make_runtime(sqlite_url, publisher=publisher)
    now = datetime.now(UTC)
    ids = [x.seed_tweet(f"tweet {n}").id for n in range(150)]
    for n, tweet_id in enumerate(ids):
        seed_post(runtime, n, tweet_ids=[tweet_id], sent_at=now - timedelta(hours=25))
    refresher = EngagementRefresher(runtime.store.engine, {"default": publisher})
    assert refresher.refresh(now) == 150
    assert [len(batch) for batch in lookups(x)] == [100, 50]
    assert {s["checkpoint"] for s in snapshots(runtime)} == {"24h"}


def test_an_old_tweet_gets_public_counters_and_a_deleted_one_is_marked(database_url: str,
                                                                       x: EmulatorServer) -> None:
    publisher = XPublisher(CREDENTIALS, api_base_url=x.base_url)
    runtime = make_runtime(database_url, publisher=publisher)
    now = datetime.now(UTC)
    old = x.seed_tweet("An old post", created_at=now - timedelta(days=40))
    set_metrics(x, old.id, {"impression_count": 5000, "like_count": 40}, {"url_link_clicks": 300})
    seed_post(runtime, 1, tweet_ids=[old.id], sent_at=now - timedelta(days=40))
    seed_post(runtime, 2, tweet_ids=["1999999999999999999"], sent_at=now - timedelta(days=2))
    refresher = EngagementRefresher(runtime.store.engine, {"default": publisher})
    assert refresher.refresh(now) == 2
    by_checkpoint = {s["checkpoint"]: s for s in snapshots(runtime)}
    assert by_checkpoint["30d"]["impressions"] == 5000 and by_checkpoint["30d"]["url_link_clicks"] is None
    assert by_checkpoint["24h"]["found"] is False
    before = len(lookups(x))
    assert refresher.refresh(now + timedelta(hours=1), force=True) == 0
    assert len(lookups(x)) == before, "a finished schedule and a missing tweet are not read again"


def test_a_rate_limit_pauses_the_reads_without_raising(sqlite_url: str, x: EmulatorServer) -> None:
    publisher = XPublisher(CREDENTIALS, api_base_url=x.base_url)
    runtime = make_runtime(sqlite_url, publisher=publisher)
    now = datetime.now(UTC)
    tweet_id = x.seed_tweet("rate limited").id
    seed_post(runtime, 1, tweet_ids=[tweet_id], sent_at=now - timedelta(hours=2))
    x.inject("/2/tweets", method="GET", status=429, reset_in=600)
    refresher = EngagementRefresher(runtime.store.engine, {"default": publisher})
    assert refresher.refresh(now) == 0
    assert refresher.next_check is not None and refresher.next_check > now + timedelta(minutes=5)
    assert refresher.refresh(now + timedelta(minutes=2)) == 0
    assert refresher.reads == 1, "no read before the reset"
    assert refresher.refresh(now + timedelta(minutes=11)) == 1


def test_dry_run_reads_nothing(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url, publisher=DryRunPublisher())
    seed_post(runtime, 1, sent_at=datetime.now(UTC) - timedelta(hours=2))
    assert asyncio.run(refresh_engagement(runtime, datetime.now(UTC))) == 0  # type: ignore[arg-type]


class RecordingReader:
    """Stands in for one account's publisher: remembers the ids it was asked for."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def tweet_metrics(self, ids: list[str]) -> dict[str, object]:
        self.asked.append(list(ids))
        return {}


def test_each_account_reads_its_own_tweets(sqlite_url: str) -> None:
    """X shows the private counters only to the account that posted, so reads go by account."""
    runtime = make_runtime(sqlite_url)
    now = datetime.now(UTC)
    first, _ = seed_post(runtime, 1, tweet_ids=["101"], sent_at=now - timedelta(hours=2))
    seed_post(runtime, 2, tweet_ids=["202"], sent_at=now - timedelta(hours=2))
    with runtime.store.engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.post_id == first).values(account="client-b"))
    default, client_b = RecordingReader(), RecordingReader()
    refresher = EngagementRefresher(runtime.store.engine, {"default": default, "client-b": client_b})
    assert refresher.refresh(now) == 2
    assert default.asked == [["202"]] and client_b.asked == [["101"]]
