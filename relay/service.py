"""The use cases: take posts in, decide what to post, post what is due.

Written against the store and the ports only (no adapter, no settings), so every door
(feed, webhook, republish) shares the same rules and tests can drive it with fakes.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from relay.core.compose import ComposeOptions, compose_tweet
from relay.core.identity import dedup_key, normalise_url
from relay.core.models import FeedDocument, Post
from relay.errors import (
    AccountBlocked,
    DuplicateContent,
    PublishError,
    RateLimited,
    TransientPublishError,
    TweetRejected,
)
from relay.ports import Publisher
from relay.store.rows import DeliveryRow, FeedRow, NewPost
from relay.store.store import FAILED, QUEUED, SENT, SKIPPED, Store

log = logging.getLogger("relay.service")

RETRY_BASE = timedelta(seconds=30)
RETRY_CEILING = timedelta(hours=1)
BLOCKED_RECHECK = timedelta(minutes=15)


@dataclass(frozen=True)
class IngestResult:
    """What one look at a feed changed."""

    seen: int
    new: int
    queued: int
    baseline: bool


@dataclass(frozen=True)
class PostDecision:
    """What a pushed post led to: ``queued``, ``already_known``, ``duplicate``, ``withdrawn``, ``unknown``."""

    outcome: str
    post_id: int | None = None
    delivery_ids: list[int] = field(default_factory=list)


@dataclass
class PublishReport:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    blocked_reason: str | None = None


class RelayService:
    def __init__(self, store: Store, publisher: Publisher) -> None:
        self.store = store
        self.publisher = publisher
        self.blocked_reason: str | None = None
        """Set when X refused the account (credentials, credits): publishing pauses."""

    # -- taking posts in -------------------------------------------------------------

    def ingest_feed(
        self,
        feed: FeedRow,
        document: FeedDocument,
        *,
        options: ComposeOptions,
        backfill: int,
        now: datetime,
    ) -> IngestResult:
        """Record the feed's unseen entries; queue a tweet for each that should be posted.

        The first time relay sees a feed, its entries are a baseline: remembered and not
        posted (except the newest ``backfill``), because posting a blog's whole archive
        the day relay is installed is the flood nobody wants.
        """
        candidates = [p for p in document.posts if p.url]
        fresh = self._unseen(candidates)
        first_sight = feed.baseline_at is None
        to_post: set[int] = set(range(len(fresh)))
        if first_sight:
            newest_first = sorted(range(len(fresh)), key=lambda i: _published_sort_key(fresh[i]), reverse=True)
            to_post = set(newest_first[:backfill])
        items = [
            self._new_post(post, source="feed", options=options, now=now, post_it=i in to_post)
            for i, post in enumerate(fresh)
        ]
        # Oldest first, so tweets go out in the order the blog published them.
        items.sort(key=lambda item: _published_sort_key(item.post))
        queued = self.store.record_posts(feed.id, items, now)
        changes: dict[str, object] = {}
        if first_sight:
            changes["baseline_at"] = now
        if fresh and not first_sight:
            changes["last_new_entry_at"] = now
        if changes:
            self.store.update_feed(feed.id, **changes)
        log.info(
            "feed ingested",
            extra={"feed": feed.url, "entries": len(candidates), "new": len(fresh), "queued": len(queued),
                   "baseline": first_sight},
        )
        return IngestResult(seen=len(candidates), new=len(fresh), queued=len(queued), baseline=first_sight)

    def _unseen(self, candidates: Sequence[Post]) -> list[Post]:
        keys = [dedup_key(p) for p in candidates]
        urls = [normalise_url(p.url) for p in candidates]
        known_keys, known_urls = self.store.known_posts(keys, urls)
        fresh: list[Post] = []
        batch_keys: set[str] = set()
        for post, key, url in zip(candidates, keys, urls, strict=True):
            if key in known_keys or url in known_urls or key in batch_keys:
                continue
            batch_keys.add(key)
            fresh.append(post)
        return fresh

    def _new_post(self, post: Post, *, source: str, options: ComposeOptions, now: datetime, post_it: bool) -> NewPost:
        tweet = compose_tweet(post, options, today=now.date()) if post_it else None
        return NewPost(
            post=post, dedup_key=dedup_key(post), normalized_url=normalise_url(post.url), source=source, tweet=tweet
        )

    def ingest_post(
        self,
        post: Post,
        *,
        source: str,
        options: ComposeOptions,
        now: datetime,
        on_update: str = "ignore",
    ) -> PostDecision:
        """One post from a door that pushes (webhook, republish by URL): queue it unless known.

        Editing a post that relay already knows posts nothing again, unless
        ``on_update="repost_if_title_changed"`` and the title really changed.
        """
        key, url = dedup_key(post), normalise_url(post.url)
        existing = self.store.find_post(key, url)
        if existing is None:
            queued = self.store.record_posts(None, [self._new_post(post, source=source, options=options, now=now,
                                                                   post_it=True)], now)
            return PostDecision("queued" if queued else "duplicate", delivery_ids=queued)
        post_id, known = existing
        if on_update == "repost_if_title_changed" and post.title.strip() != known.title.strip():
            tweet = compose_tweet(post, options, today=now.date())
            delivery_id = self.store.add_variant(post_id, tweet, now)
            return PostDecision("queued", post_id=post_id, delivery_ids=[delivery_id])
        return PostDecision("already_known", post_id=post_id)

    def withdraw_post(self, post: Post, *, now: datetime) -> PostDecision:
        """The post was trashed or unpublished: skip whatever of it is still queued."""
        existing = self.store.find_post(dedup_key(post), normalise_url(post.url))
        if existing is None:
            return PostDecision("unknown")
        skipped = self.store.skip_queued(existing[0], now, reason="the post was withdrawn before it was posted")
        return PostDecision("withdrawn", post_id=existing[0], delivery_ids=skipped)

    # -- posting -----------------------------------------------------------------------

    def publish_due(self, now: datetime, *, limit: int = 10) -> PublishReport:
        """Post what is due, one by one, recording every attempt.

        A delivery is moved to ``sending`` before X is called, so a crash mid-call leaves
        a trace to reconcile instead of a silent duplicate.
        """
        report = PublishReport()
        if self.blocked_reason is not None:
            report.blocked_reason = self.blocked_reason
            return report
        for delivery in self.store.claim_due(now, limit):
            self._publish_one(delivery, now, report)
            if self.blocked_reason is not None:
                report.blocked_reason = self.blocked_reason
                break
        return report

    def _publish_one(self, delivery: DeliveryRow, now: datetime, report: PublishReport) -> None:
        finish = self.store.finish_delivery
        try:
            published = self.publisher.publish(delivery.text)
        except RateLimited as exc:
            wait_until = _from_unix(exc.reset_at) if exc.reset_at else now + RETRY_BASE
            wait_until = max(wait_until, now) + timedelta(seconds=random.uniform(1, 10))
            finish(delivery.id, status=QUEUED, now=now, outcome="rate_limited", detail=str(exc),
                   next_attempt_at=wait_until)
            report.retried.append(delivery.id)
        except TransientPublishError as exc:
            finish(delivery.id, status=QUEUED, now=now, outcome="error", detail=str(exc),
                   next_attempt_at=now + retry_delay(delivery.attempts))
            report.retried.append(delivery.id)
        except DuplicateContent as exc:
            finish(delivery.id, status=SKIPPED, now=now, outcome="duplicate", detail=str(exc))
            report.skipped.append(delivery.id)
        except TweetRejected as exc:
            finish(delivery.id, status=FAILED, now=now, outcome="rejected", detail=str(exc))
            report.failed.append(delivery.id)
        except AccountBlocked as exc:
            self.blocked_reason = str(exc)
            finish(delivery.id, status=QUEUED, now=now, outcome="blocked", detail=str(exc),
                   next_attempt_at=now + BLOCKED_RECHECK)
            log.error("publishing paused: %s", exc, extra={"delivery": delivery.id})
        except PublishError as exc:
            finish(delivery.id, status=FAILED, now=now, outcome="error", detail=str(exc))
            report.failed.append(delivery.id)
        else:
            finish(delivery.id, status=SENT, now=now, outcome="dry_run" if published.dry_run else "sent",
                   tweet_id=published.tweet_id, dry_run=published.dry_run)
            report.sent.append(delivery.id)
            log.info(
                "dry-run: would post" if published.dry_run else "posted",
                extra={"delivery": delivery.id, "tweet_id": published.tweet_id, "text": delivery.text},
            )


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff from 30 s, doubling per attempt, capped at one hour."""
    exponent = min(max(0, attempts - 1), 16)
    delay: timedelta = RETRY_BASE * (2**exponent)
    return min(delay, RETRY_CEILING)


def _from_unix(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _published_sort_key(post: Post) -> float:
    return post.published_at.timestamp() if post.published_at else 0.0
