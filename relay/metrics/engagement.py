"""What X says about each relayed tweet, read on a schedule that respects the bill.

X bills every read of a tweet, so relay does not poll: it takes a snapshot of each tweet
at fixed ages (1 hour, 24 hours, 7 days, 30 days after sending), reads only tweets that
are due, and asks for up to 100 ids per call. If relay was down and several checkpoints
passed, only the newest one is read (a late "1 h" figure would be a lie anyway).

The private counters (``url_link_clicks``, ``user_profile_clicks``) come only with the
account's own credentials and only for 30 days, so the last checkpoint is taken an hour
before that, while X still hands them out. A tweet X no longer knows (deleted) gets a
snapshot with ``found = False`` and is not asked about again for that checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine

from relay.errors import PublishError, RateLimited
from relay.store.metrics_store import SentTweet, save_snapshots, tweets_to_watch
from relay.store.outbox import DEFAULT_ACCOUNT
from relay.store.store import Store


class Runtime(Protocol):
    """What the refresher needs of :class:`relay.wiring.Runtime`, named here so metrics never import wiring."""

    store: Store
    publisher: Any
    service: Any

log = logging.getLogger("relay.engagement")

CHECKPOINTS: tuple[tuple[str, timedelta], ...] = (
    ("1h", timedelta(hours=1)),
    ("24h", timedelta(hours=24)),
    ("7d", timedelta(days=7)),
    ("30d", timedelta(days=30) - timedelta(hours=1)),
)
FINAL_CHECKPOINT = CHECKPOINTS[-1][0]
IDS_PER_READ = 100
CHECK_EVERY = timedelta(minutes=1)
BACKOFF = timedelta(minutes=15)


class TweetCounters(Protocol):
    """The shape of :class:`relay.adapters.x.TweetMetrics` that relay relies on."""

    @property
    def impression_count(self) -> int: ...
    @property
    def like_count(self) -> int: ...
    @property
    def retweet_count(self) -> int: ...
    @property
    def reply_count(self) -> int: ...
    @property
    def quote_count(self) -> int: ...
    @property
    def bookmark_count(self) -> int: ...
    @property
    def url_link_clicks(self) -> int | None: ...
    @property
    def user_profile_clicks(self) -> int | None: ...


class MetricsReader(Protocol):
    """What reads counters from X: the real publisher has it, the dry-run one does not."""

    def tweet_metrics(self, ids: Sequence[str]) -> Mapping[str, TweetCounters]: ...


@dataclass(frozen=True)
class DueRead:
    delivery_id: int
    tweet_id: str
    checkpoint: str
    account: str = "default"


def due_reads(tweets: Sequence[SentTweet], now: datetime) -> list[DueRead]:
    """The snapshots to take now: per tweet, the newest checkpoint reached and not yet taken."""
    due = []
    names = [name for name, _ in CHECKPOINTS]
    for tweet in tweets:
        age = now - tweet.sent_at
        reached = [name for name, offset in CHECKPOINTS if age >= offset]
        if not reached:
            continue
        newest = reached[-1]
        later_or_same = set(names[names.index(newest) :])
        if tweet.checkpoints_taken & later_or_same:
            continue
        due.append(DueRead(tweet.delivery_id, tweet.tweet_id, newest, tweet.account))
    return due


def snapshot_row(read: DueRead, counters: TweetCounters | None, now: datetime) -> dict[str, Any]:
    """A row for ``engagement_snapshots``; ``counters`` None means X did not return the tweet."""
    row: dict[str, Any] = {
        "delivery_id": read.delivery_id,
        "checkpoint": read.checkpoint,
        "taken_at": now,
        "found": counters is not None,
    }
    if counters is not None:
        row.update(
            impressions=counters.impression_count,
            likes=counters.like_count,
            retweets=counters.retweet_count,
            replies=counters.reply_count,
            quotes=counters.quote_count,
            bookmarks=counters.bookmark_count,
            url_link_clicks=counters.url_link_clicks,
            user_profile_clicks=counters.user_profile_clicks,
        )
    return row


class EngagementRefresher:
    """Takes the due snapshots; remembers when to look next and backs off after X errors.

    ``readers`` maps an account name to what reads its tweets (its own publisher: X shows
    the private counters to the account that posted, nobody else); an account without a
    reader (dry-run) is skipped.
    """

    def __init__(self, engine: Engine, readers: Mapping[str, MetricsReader]) -> None:
        self.engine = engine
        self.readers = readers
        self.next_check: datetime | None = None
        self.reads = 0
        """Calls made to X (each one billed), for tests and logs."""

    def refresh(self, now: datetime, *, force: bool = False) -> int:
        """Read what is due (blocking: call it from a thread). Returns snapshots stored."""
        if not force and self.next_check is not None and now < self.next_check:
            return 0
        self.next_check = now + CHECK_EVERY
        due = due_reads(tweets_to_watch(self.engine, FINAL_CHECKPOINT), now)
        stored = 0
        for account, reader in self.readers.items():
            mine = [read for read in due if read.account == account]
            for start in range(0, len(mine), IDS_PER_READ):
                chunk = mine[start : start + IDS_PER_READ]
                counters = self._read(reader, chunk, now)
                if counters is None:
                    return stored
                rows = [snapshot_row(read, counters.get(read.tweet_id), now) for read in chunk]
                stored += save_snapshots(self.engine, rows)
        if stored:
            log.info("engagement snapshots stored", extra={"snapshots": stored, "due": len(due)})
        return stored

    def _read(self, reader: MetricsReader, chunk: list[DueRead], now: datetime) -> Mapping[str, TweetCounters] | None:
        """One billed call for up to 100 tweets; None after an X error (and the next try is set)."""
        try:
            self.reads += 1
            return reader.tweet_metrics(sorted({read.tweet_id for read in chunk}))
        except RateLimited as exc:
            reset = datetime.fromtimestamp(exc.reset_at, UTC) if exc.reset_at else now + BACKOFF
            self.next_check = max(reset, now + CHECK_EVERY)
            log.warning("X rate-limited the metrics read; next try at %s", self.next_check.isoformat())
        except PublishError as exc:
            self.next_check = now + BACKOFF
            log.warning("reading tweet metrics failed: %s; next try in 15 minutes", exc)
        return None


def metrics_readers(runtime: Runtime) -> dict[str, MetricsReader]:
    """Each account's own publisher, when it can read X (the dry-run one cannot)."""
    publishers: dict[str, Any] = {DEFAULT_ACCOUNT: runtime.publisher}
    publishers.update({name: outbox.publisher for name, outbox in runtime.service.outboxes.items()})
    return {
        name: publisher
        for name, publisher in publishers.items()
        if not publisher.dry_run and callable(getattr(publisher, "tweet_metrics", None))
    }


_refreshers: weakref.WeakKeyDictionary[object, EngagementRefresher] = weakref.WeakKeyDictionary()


def refresher_for(runtime: Runtime) -> EngagementRefresher | None:
    """The refresher of this runtime, made on first use; None when nothing can read X (dry-run)."""
    refresher = _refreshers.get(runtime.store)
    if refresher is None:
        readers = metrics_readers(runtime)
        if not readers:
            return None
        refresher = EngagementRefresher(runtime.store.engine, readers)
        _refreshers[runtime.store] = refresher
    return refresher


async def refresh_engagement(runtime: Runtime, now: datetime) -> int:
    """Take the snapshots due at ``now``; cheap to call every worker round (it looks once a minute).

    Returns the number of snapshots stored. Never raises for an X error: it logs and
    waits (until the rate-limit reset, or 15 minutes) before reading again.
    """
    refresher = refresher_for(runtime)
    if refresher is None:
        return 0
    return await asyncio.to_thread(refresher.refresh, now)
