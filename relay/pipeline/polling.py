"""Polling feeds: fetch what is due, parse it, hand it to the service, schedule the next look.

Fetch, parse and process are separate steps (as in miniflux): the fetch is async and
bounded; a 304 or an unchanged body stops before parsing; a failure is recorded on the
feed and pushes its next check back, it never stops the other feeds.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from relay.adapters.http_fetch import FeedClient
from relay.core.compose import ComposeOptions
from relay.core.flood import FloodRules
from relay.core.models import FeedDocument, Post
from relay.core.schedule import next_check_at
from relay.errors import FeedError, FetchError
from relay.pipeline.enrichment import PageEnricher
from relay.pipeline.parsing import FeedParsers
from relay.pipeline.service import RelayService
from relay.store.rows import FeedRow

log = logging.getLogger("relay.polling")

MIN_INTERVAL = timedelta(minutes=1)
MAX_INTERVAL = timedelta(hours=24)
BACKOFF_CEILING = timedelta(hours=6)
DEFAULT_CONCURRENCY = 50
DEFAULT_PER_HOST = 4
CHECKS_PER_WRITE = 256
"""Unchanged feeds' outcomes are written together, this many at a time (and at the end of a round)."""
FEED_LEASE = timedelta(minutes=5)
"""Longer than any one feed's fetch, parse and page reads; a dead instance's feeds free up after it."""


@dataclass(frozen=True)
class FeedPlan:
    """What the configuration says about one feed."""

    url: str
    options: ComposeOptions
    backfill: int
    interval: timedelta
    rules: FloodRules = field(default_factory=FloodRules)


@dataclass(frozen=True)
class PollOutcome:
    feed_url: str
    new: int = 0
    queued: int = 0
    held: int = 0
    not_modified: bool = False
    error: str | None = None


DocumentHook = Callable[[FeedRow, FeedDocument, Mapping[str, str]], Awaitable[None]]
"""Called with every freshly parsed feed (WebSub discovery looks for a hub in it)."""
NewPostsHook = Callable[[list[Post]], Awaitable[None]]
"""Called with the posts just queued for tweeting (IndexNow tells search engines)."""


class FeedPoller:
    def __init__(
        self,
        service: RelayService,
        plans: Sequence[FeedPlan],
        *,
        client: FeedClient,
        concurrency: int = DEFAULT_CONCURRENCY,
        per_host: int = DEFAULT_PER_HOST,
        parsers: FeedParsers | None = None,
        jitter: float = 0.1,
        enricher: PageEnricher | None = None,
        on_document: DocumentHook | None = None,
        on_new_posts: NewPostsHook | None = None,
        push_live: Callable[[datetime], set[int]] | None = None,
        push_slowdown: float = 4.0,
        instance: str = "relay",
        lease: timedelta = FEED_LEASE,
    ) -> None:
        self.service = service
        self.enricher = enricher
        self.on_document = on_document
        self.on_new_posts = on_new_posts
        self.push_live = push_live
        """Feed ids whose WebSub push is live: polled ``push_slowdown`` times less often."""
        self.push_slowdown = push_slowdown
        self.instance = instance
        """Who holds a feed's lease, for the operator reading the feeds table."""
        self.concurrency = concurrency
        self.per_host = per_host
        """At most this many fetches at once to one host: many client blogs on one server are not hammered."""
        self.parsers = parsers or FeedParsers(0)
        self.lease = lease
        self.store = service.store
        self.plans: Mapping[str, FeedPlan] = {plan.url: plan for plan in plans}
        self.client = client
        self.jitter = jitter
        self._slots = asyncio.Semaphore(concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._checked: list[tuple[int, dict[str, object]]] = []
        self._synced = False

    async def poll(self, now: datetime, *, only_due: bool = True) -> list[PollOutcome]:
        """Poll every configured feed that is due (or all of them, for ``poll --once``).

        A continuous pipeline: feeds are claimed under a lease a few at a time as slots free up,
        so the round never waits for the slowest feed of a batch, and instances sharing a database
        split the work between them without fetching the same feed at once.
        """
        if not self._synced:  # the config does not change while relay runs: its feeds get rows once
            await asyncio.to_thread(self.store.sync_feeds, list(self.plans), now)
            self._synced = True
        rows = await asyncio.to_thread(self.store.active_feeds, now, only_due=only_due)
        candidates = [r for r in rows if r.configured_url in self.plans]  # not feeds removed from the config
        if self.push_live is not None and only_due and candidates:
            live = await asyncio.to_thread(self.push_live, now)
            candidates = [
                r for r in candidates
                if r.id not in live
                or _safety_poll_due(r, now, self.plans[r.configured_url].interval, self.push_slowdown)
            ]
        remaining = _spread_by_host(candidates)
        outcomes: list[PollOutcome] = []
        running: set[asyncio.Task[PollOutcome]] = set()
        try:
            while remaining or running:
                # Keep between one and a half and two feeds claimed per fetch slot: a slot that frees up finds
                # work at once, no feed sits leased long before it is fetched, and claims go by the dozen
                # (one statement each), not one per finished feed. The list alternates hosts, so a host's
                # limit holds back few of them.
                if remaining and len(running) <= self.concurrency * 3 // 2:
                    want = 2 * self.concurrency - len(running)
                    window = remaining[:want]  # exactly these: the list's order spreads hosts, keep it
                    claimed = await asyncio.to_thread(
                        self.store.claim_feeds, window, now, limit=want, lease=self.lease,
                        instance=self.instance, only_due=only_due,
                    )
                    # What was not claimed in the window is another instance's (or no longer due): move on.
                    remaining = remaining[len(window):]
                    running |= {asyncio.create_task(self._poll_guarded(feed, now)) for feed in claimed}
                    if remaining and len(claimed) < want:
                        continue  # that window was short (another instance has part of it): the next one
                if not running:
                    continue
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                outcomes += [task.result() for task in done]
                if len(self._checked) >= CHECKS_PER_WRITE:
                    await self._record_checks()
        finally:
            for task in running:
                task.cancel()
            await self._record_checks()
        return outcomes

    async def _record_checks(self) -> None:
        """Write the unchanged feeds' outcomes gathered so far, in one transaction."""
        checks, self._checked = self._checked, []
        if checks:
            await asyncio.to_thread(self.store.record_feed_checks, checks)

    def _host_slots(self, url: str) -> asyncio.Semaphore:
        host = (urlsplit(url).hostname or "").lower()
        if (slots := self._hosts.get(host)) is None:
            slots = self._hosts[host] = asyncio.Semaphore(self.per_host)
        return slots

    async def _poll_guarded(self, feed: FeedRow, now: datetime) -> PollOutcome:
        host = self._host_slots(feed.url)
        await host.acquire()
        try:
            async with self._slots:
                try:
                    return await self._poll_one(feed, now)
                except FetchError as exc:
                    return await self._record_error(feed, now, str(exc), status=exc.status,
                                                    retry_after=exc.retry_after)
                except FeedError as exc:
                    return await self._record_error(feed, now, str(exc))
                except Exception as exc:  # one broken feed must never stop the others
                    log.exception("unexpected error while polling", extra={"feed": feed.url})
                    return await self._record_error(feed, now, f"unexpected error: {type(exc).__name__}: {exc}")
        finally:
            host.release()

    async def _poll_one(self, feed: FeedRow, now: datetime) -> PollOutcome:
        plan = self.plans[feed.configured_url]
        result = await self.client.fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified)
        changes: dict[str, object] = {
            "last_checked_at": now,
            "lease_until": None,
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
            # Written with the round's other unchanged feeds; lost in a crash, the feed is only checked again.
            self._checked.append((feed.id, changes))
            return PollOutcome(feed.url, not_modified=True)
        changes["content_hash"] = result.content_hash
        outcome = await self._process(feed, plan, result.body, url=result.final_url, headers=result.headers,
                                      now=now, changes=changes)
        return outcome

    async def ingest_pushed(self, feed_id: int, body: bytes, headers: Mapping[str, str], now: datetime) -> PollOutcome:
        """Content a WebSub hub pushed: same parse and triage as a poll, schedule untouched."""
        feed = await asyncio.to_thread(self.store.get_feed, feed_id)
        plan = self.plans.get(feed.configured_url)
        if plan is None or feed.status != "active":
            return PollOutcome(feed.url, error="feed is not configured or not active")
        return await self._process(feed, plan, body, url=feed.url, headers=headers, now=now, changes={})

    async def _process(
        self, feed: FeedRow, plan: FeedPlan, body: bytes, *, url: str, headers: Mapping[str, str], now: datetime,
        changes: dict[str, object],
    ) -> PollOutcome:
        """Parse, triage, read the pages of what will be tweeted, record; then the hooks."""
        # Parsing is CPU work (seconds for a hostile feed): off the event loop, on every core.
        document = await self.parsers.parse(body, url=url, headers=headers)
        if document.title:
            changes["title"] = document.title
        triaged = await asyncio.to_thread(
            self.service.triage_feed, feed, document, backfill=plan.backfill, rules=plan.rules, now=now
        )
        to_tweet = [post for post, _ in triaged.post]
        shown = await self.enricher.enrich(to_tweet) if self.enricher and to_tweet else to_tweet
        ingest = await asyncio.to_thread(
            self.service.record_feed_entries, feed, triaged, options=plan.options, now=now, shown=shown
        )
        # Validators (ETag, content hash) are saved only once the entries are recorded: saved
        # earlier, a crash in between would make the next look skip entries never recorded.
        if ingest.held:
            changes.pop("last_error", None)  # keep the reason the feed is held
        if changes:
            await asyncio.to_thread(self.store.update_feed, feed.id, **changes)
        await self._run_hooks(feed, document, headers, shown if ingest.queued else [])
        return PollOutcome(feed.url, new=ingest.new, queued=ingest.queued, held=ingest.held)

    async def _run_hooks(self, feed: FeedRow, document: FeedDocument, headers: Mapping[str, str],
                         queued: list[Post]) -> None:
        """Side work (push subscription, search-engine ping) never fails a poll."""
        try:
            if self.on_document is not None:
                await self.on_document(feed, document, headers)
            if self.on_new_posts is not None and queued:
                await self.on_new_posts(queued)
        except Exception:
            log.exception("feed hook failed", extra={"feed": feed.url})

    async def _record_error(
        self, feed: FeedRow, now: datetime, message: str, *, status: int | None = None,
        retry_after: float | None = None,
    ) -> PollOutcome:
        plan = self.plans[feed.configured_url]
        errors = feed.error_count + 1
        changes: dict[str, object] = {
            "last_checked_at": now,
            "lease_until": None,
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
            min_interval=min(MIN_INTERVAL, plan.interval),
            max_interval=MAX_INTERVAL,
            backoff_ceiling=BACKOFF_CEILING,
        )


def _spread_by_host(candidates: Sequence[FeedRow]) -> list[int]:
    """Feed ids with their hosts taking turns: a window of the list then reaches many hosts at once.

    An agency's blogs often share a server; claimed together, they would queue behind its
    per-host limit while other hosts' feeds waited unclaimed.
    """
    seen: dict[str, int] = {}
    turns: list[tuple[int, int, int]] = []
    for position, feed in enumerate(candidates):
        host = (urlsplit(feed.url).hostname or "").lower()
        turn = seen[host] = seen.get(host, -1) + 1
        turns.append((turn, position, feed.id))
    return [feed_id for _, _, feed_id in sorted(turns)]


def _safety_poll_due(feed: FeedRow, now: datetime, interval: timedelta, slowdown: float) -> bool:
    return feed.last_checked_at is None or feed.last_checked_at + interval * slowdown <= now
