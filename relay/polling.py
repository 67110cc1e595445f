"""Polling feeds: fetch what is due, parse it, hand it to the service, schedule the next look.

Fetch, parse and process are separate steps (as in miniflux): the fetch is async and
bounded; a 304 or an unchanged body stops before parsing; a failure is recorded on the
feed and pushes its next check back, it never stops the other feeds.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from relay.adapters.feed_parser import parse_feed
from relay.adapters.http_fetch import FetchLimits, fetch
from relay.core.compose import ComposeOptions
from relay.core.schedule import next_check_at
from relay.errors import FeedError, FetchError
from relay.service import RelayService
from relay.store.rows import FeedRow

log = logging.getLogger("relay.polling")

MIN_INTERVAL = timedelta(minutes=1)
MAX_INTERVAL = timedelta(hours=24)
BACKOFF_CEILING = timedelta(hours=6)


@dataclass(frozen=True)
class FeedPlan:
    """What the configuration says about one feed."""

    url: str
    options: ComposeOptions
    backfill: int
    interval: timedelta


@dataclass(frozen=True)
class PollOutcome:
    feed_url: str
    new: int = 0
    queued: int = 0
    not_modified: bool = False
    error: str | None = None


class FeedPoller:
    def __init__(
        self,
        service: RelayService,
        plans: Sequence[FeedPlan],
        *,
        client: httpx.AsyncClient,
        limits: FetchLimits,
        concurrency: int = 20,
        jitter: float = 0.1,
    ) -> None:
        self.service = service
        self.store = service.store
        self.plans: Mapping[str, FeedPlan] = {plan.url: plan for plan in plans}
        self.client = client
        self.limits = limits
        self.jitter = jitter
        self._slots = asyncio.Semaphore(concurrency)

    async def poll(self, now: datetime, *, only_due: bool = True) -> list[PollOutcome]:
        """Poll every configured feed that is due (or all of them, for ``poll --once``)."""
        rows = await asyncio.to_thread(self.store.sync_feeds, list(self.plans), now)
        due = [r for r in rows if r.status == "active" and (not only_due or _is_due(r, now))]
        return list(await asyncio.gather(*(self._poll_guarded(row, now) for row in due)))

    async def _poll_guarded(self, feed: FeedRow, now: datetime) -> PollOutcome:
        async with self._slots:
            try:
                return await self._poll_one(feed, now)
            except FetchError as exc:
                return await self._record_error(feed, now, str(exc), status=exc.status, retry_after=exc.retry_after)
            except FeedError as exc:
                return await self._record_error(feed, now, str(exc))
            except Exception as exc:  # one broken feed must never stop the others
                log.exception("unexpected error while polling", extra={"feed": feed.url})
                return await self._record_error(feed, now, f"unexpected error: {type(exc).__name__}: {exc}")

    async def _poll_one(self, feed: FeedRow, now: datetime) -> PollOutcome:
        plan = self.plans[feed.configured_url]
        result = await fetch(self.client, feed.url, etag=feed.etag, last_modified=feed.last_modified,
                             limits=self.limits)
        changes: dict[str, object] = {
            "last_checked_at": now,
            "error_count": 0,
            "last_error": None,
            "etag": result.etag or feed.etag,
            "last_modified": result.last_modified or feed.last_modified,
            "next_check_at": self._next_check(plan, now, max_age=result.max_age),
        }
        if result.permanent_url and result.permanent_url != feed.url:
            log.info("feed moved permanently", extra={"feed": feed.url, "new_url": result.permanent_url})
            changes["url"] = result.permanent_url
        if result.not_modified or result.body is None or result.content_hash == feed.content_hash:
            await asyncio.to_thread(self.store.update_feed, feed.id, **changes)
            return PollOutcome(feed.url, not_modified=True)
        # Parsing is CPU work (seconds for a hostile feed): keep it off the event loop.
        document = await asyncio.to_thread(parse_feed, result.body, url=result.final_url, headers=result.headers)
        changes["content_hash"] = result.content_hash
        if document.title:
            changes["title"] = document.title
        ingest = await asyncio.to_thread(
            self.service.ingest_feed, feed, document, options=plan.options, backfill=plan.backfill, now=now
        )
        await asyncio.to_thread(self.store.update_feed, feed.id, **changes)
        return PollOutcome(feed.url, new=ingest.new, queued=ingest.queued)

    async def _record_error(
        self, feed: FeedRow, now: datetime, message: str, *, status: int | None = None,
        retry_after: float | None = None,
    ) -> PollOutcome:
        plan = self.plans[feed.configured_url]
        errors = feed.error_count + 1
        changes: dict[str, object] = {
            "last_checked_at": now,
            "error_count": errors,
            "last_error": message,
            "next_check_at": self._next_check(plan, now, retry_after=retry_after, error_count=errors),
        }
        if status == 410:
            changes["status"] = "gone"
            log.error("feed is gone (HTTP 410); relay stopped polling it. Remove it from the config.",
                      extra={"feed": feed.url})
        else:
            log.warning("feed check failed", extra={"feed": feed.url, "error": message, "errors": errors})
        await asyncio.to_thread(self.store.update_feed, feed.id, **changes)
        return PollOutcome(feed.url, error=message)

    def _next_check(
        self, plan: FeedPlan, now: datetime, *, max_age: float | None = None, retry_after: float | None = None,
        error_count: int = 0,
    ) -> datetime:
        return next_check_at(
            now,
            interval=plan.interval,
            jitter_fraction=self.jitter,
            rng_value=random.random(),
            max_age_hint=max_age,
            retry_after=retry_after,
            error_count=error_count,
            min_interval=MIN_INTERVAL,
            max_interval=MAX_INTERVAL,
            backoff_ceiling=BACKOFF_CEILING,
        )


def _is_due(feed: FeedRow, now: datetime) -> bool:
    return feed.next_check_at is None or feed.next_check_at <= now
