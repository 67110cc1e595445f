"""What X, Mastodon and Bluesky say about each relayed post, read on a schedule that respects X's bill.

X bills every read of a tweet, so relay does not poll: it takes a snapshot of each post
at fixed ages (1 hour, 24 hours, 7 days, 30 days after sending), reads only posts that
are due, and asks for up to 100 ids per call. If relay was down and several checkpoints
passed, only the newest one is read (a late "1 h" figure would be a lie anyway). Mastodon
and Bluesky reads are free, but the same checkpoints are kept for them, so a post's
figures on each network are comparable at the same ages.

Each account's posts are read with that account's own publisher (:mod:`relay.metrics.readers`
turns each network's counters into the columns of ``engagement_snapshots``: a boost or a
repost is stored as ``retweets``; views and bookmarks stay empty where the network does not
count them). X's private counters (``url_link_clicks``, ``user_profile_clicks``) come only
with the account's own credentials and only for 30 days, so the last checkpoint is taken an
hour before that, while X still hands them out. A post the network no longer knows (deleted)
gets a snapshot with ``found = False`` and is not asked about again for that checkpoint.
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

from relay.core.networks import NETWORK_NAMES
from relay.errors import PublishError, RateLimited
from relay.metrics.readers import Counters, CountersReader, MetricsSource, reader_for
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


def snapshot_row(read: DueRead, counters: Counters | None, now: datetime) -> dict[str, Any]:
    """A row for ``engagement_snapshots``; ``counters`` None means the network did not return the post."""
    row: dict[str, Any] = {
        "delivery_id": read.delivery_id,
        "checkpoint": read.checkpoint,
        "taken_at": now,
        "found": counters is not None,
    }
    if counters is not None:
        row.update(
            impressions=counters.impressions,
            likes=counters.likes,
            retweets=counters.reposts,
            replies=counters.replies,
            quotes=counters.quotes,
            bookmarks=counters.bookmarks,
            url_link_clicks=counters.url_link_clicks,
            user_profile_clicks=counters.user_profile_clicks,
        )
    return row


class EngagementRefresher:
    """Takes the due snapshots; remembers when to look next and backs off, per account, after errors.

    ``readers`` maps an account name to what reads its posts: its own publisher (X shows the
    private counters to the account that posted, nobody else; a Mastodon status id means
    something only on its instance) or a ready :class:`CountersReader`. An account without a
    reader (dry-run) is skipped. One network failing (rate limit, outage) pauses that account's
    reads only: the others go on.
    """

    def __init__(self, engine: Engine, readers: Mapping[str, MetricsSource | CountersReader]) -> None:
        self.engine = engine
        self.readers: dict[str, CountersReader] = {}
        for account, source in readers.items():
            reader = source if isinstance(source, CountersReader) else reader_for(source)
            if reader is not None:
                self.readers[account] = reader
        self.next_check: datetime | None = None
        self.paused_until: dict[str, datetime] = {}
        """Accounts whose network refused or failed a read, and when to try them again."""
        self.reads = 0
        """Calls made to the networks (those to X are billed), for tests and logs."""
        self.billed_reads = 0
        """The calls among them that X bills."""

    def refresh(self, now: datetime, *, force: bool = False) -> int:
        """Read what is due (blocking: call it from a thread). Returns snapshots stored."""
        if not force and self.next_check is not None and now < self.next_check:
            return 0
        self.next_check = now + CHECK_EVERY
        due = due_reads(tweets_to_watch(self.engine, FINAL_CHECKPOINT), now)
        stored = 0
        for account, reader in self.readers.items():
            if not force and now < self.paused_until.get(account, now):
                continue
            mine = [read for read in due if read.account == account]
            for start in range(0, len(mine), IDS_PER_READ):
                chunk = mine[start : start + IDS_PER_READ]
                counters = self._read(account, reader, chunk, now)
                if counters is None:
                    break
                rows = [snapshot_row(read, counters.get(read.tweet_id), now) for read in chunk]
                stored += save_snapshots(self.engine, rows)
        waits = [self.paused_until.get(account, now) for account in self.readers]
        if waits and min(waits) > self.next_check:
            self.next_check = min(waits)  # every network is paused: nothing to do before the first comes back
        if stored:
            log.info("engagement snapshots stored", extra={"snapshots": stored, "due": len(due)})
        return stored

    def _read(self, account: str, reader: CountersReader, chunk: list[DueRead],
              now: datetime) -> Mapping[str, Counters] | None:
        """One call for up to 100 posts (billed on X); None after an error (and the account's next try is set)."""
        name = NETWORK_NAMES.get(reader.network, reader.network)
        try:
            self.reads += 1
            self.billed_reads += reader.billed
            counters = reader.read(sorted({read.tweet_id for read in chunk}))
        except RateLimited as exc:
            reset = datetime.fromtimestamp(exc.reset_at, UTC) if exc.reset_at else now + BACKOFF
            self.paused_until[account] = max(reset, now + CHECK_EVERY)
            log.warning("%s rate-limited the metrics read of account %s; next try at %s", name, account,
                        self.paused_until[account].isoformat())
        except PublishError as exc:
            self.paused_until[account] = now + BACKOFF
            log.warning("reading the metrics of account %s on %s failed: %s; next try in 15 minutes",
                        account, name, exc)
        else:
            self.paused_until.pop(account, None)
            return counters
        return None


def metrics_readers(runtime: Runtime) -> dict[str, CountersReader]:
    """Each account's own publisher, when it can read its network (the dry-run one cannot)."""
    publishers: dict[str, Any] = {DEFAULT_ACCOUNT: runtime.publisher}
    publishers.update({name: outbox.publisher for name, outbox in runtime.service.outboxes.items()})
    readers: dict[str, CountersReader] = {}
    for name, publisher in publishers.items():
        reader = None if publisher.dry_run else reader_for(publisher)
        if reader is not None:
            readers[name] = reader
    return readers


_refreshers: weakref.WeakKeyDictionary[object, EngagementRefresher] = weakref.WeakKeyDictionary()


def refresher_for(runtime: Runtime) -> EngagementRefresher | None:
    """The refresher of this runtime, made on first use; None when no account can read its network (dry-run)."""
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

    Returns the number of snapshots stored. Never raises for a network's error: it logs and
    waits (until the rate-limit reset, or 15 minutes) before reading that account again.
    """
    refresher = refresher_for(runtime)
    if refresher is None:
        return 0
    return await asyncio.to_thread(refresher.refresh, now)
