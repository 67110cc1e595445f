"""The loop that polls feeds and drains the outbox, inside ``relay serve``.

It sleeps until the next thing is due, but a :meth:`Worker.wake` (a webhook queued a
post, say) cuts the sleep short, so nothing waits for a timer between a post arriving
and its tweet going out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from relay.metrics.prometheus import POLL_DURATION
from relay.pipeline.outbox import PublishReport
from relay.pipeline.polling import FeedPoller
from relay.pipeline.service import RelayService

log = logging.getLogger("relay.worker")
EVERGREEN_EVERY = timedelta(hours=1)


class Worker:
    def __init__(
        self,
        service: RelayService,
        poller: FeedPoller,
        *,
        now: Callable[[], datetime],
        tick_seconds: float = 5.0,
        sole_worker: bool = True,
        evergreen: Callable[[datetime], object] | None = None,
        engagement: Callable[[datetime], Awaitable[int]] | None = None,
        renew_push: Callable[[datetime], Awaitable[int]] | None = None,
    ) -> None:
        self.service = service
        self.poller = poller
        self.now = now
        self.tick_seconds = tick_seconds
        self.sole_worker = sole_worker
        """On SQLite relay is one process: at start, every feed lease is a crash's leftover (post leases are
        not: the dead process's request to X may still land, so they run out as on PostgreSQL)."""
        self._recovered = False
        self.evergreen = evergreen
        self.engagement = engagement
        self.renew_push = renew_push
        """Renews WebSub subscriptions before their lease ends (it knows which are due)."""
        """Reads X's counters for relayed tweets on their schedule (it decides what is due)."""
        """Re-shares for quiet blogs (opt-in), looked at once an hour."""
        self._evergreen_at: datetime | None = None
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def wake(self) -> None:
        """Look at the outbox now rather than at the next tick."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        """Poll and publish until :meth:`stop`; an error in one round never ends the loop."""
        log.info("worker started", extra={"tick_seconds": self.tick_seconds})
        while not self._stop.is_set():
            # Cleared before the round, not after: a wake() during the round then starts another one at once.
            self._wake.clear()
            try:
                await self.recover()
                with POLL_DURATION.time():
                    await self.poller.poll(self.now())
                await self._maybe_evergreen()
                await self.drain()
                if self.engagement is not None:
                    await self.engagement(self.now())
                if self.renew_push is not None:
                    await self.renew_push(self.now())
            except Exception:
                log.exception("worker round failed; trying again at the next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick_seconds)
        log.info("worker stopped")

    async def _maybe_evergreen(self) -> None:
        now = self.now()
        if self.evergreen is None or (self._evergreen_at is not None and now - self._evergreen_at < EVERGREEN_EVERY):
            return
        self._evergreen_at = now
        await asyncio.to_thread(self.evergreen, now)

    async def recover(self) -> None:
        """Settle deliveries a crashed worker left half-done, before posting anything new."""
        if self.sole_worker and not self._recovered:  # a sole process starting: feed leases are a dead one's
            freed = await asyncio.to_thread(self.service.store.release_feed_leases)
            if freed:
                log.warning("freed feeds a stopped worker was checking", extra={"feeds": freed})
        settled = await asyncio.to_thread(self.service.recover, self.now())
        self._recovered = True
        if settled:
            log.warning("settled deliveries left by a stopped worker", extra={"deliveries": settled})

    async def drain(self) -> PublishReport:
        """Publish everything that is due now, batch after batch."""
        total = PublishReport()
        while not self._stop.is_set():
            report = await asyncio.to_thread(self.service.publish_due, self.now())
            total.sent += report.sent
            total.retried += report.retried
            total.failed += report.failed
            total.skipped += report.skipped
            total.blocked_reason = report.blocked_reason
            total.held_reason = report.held_reason
            progressed = report.sent or report.failed or report.skipped or report.retried
            if not progressed or report.blocked_reason or report.held_reason:
                break
        return total

    async def run_once(self) -> PublishReport:
        """One full round for ``relay poll --once``: every feed, then the whole outbox."""
        await self.recover()
        await self.poller.poll(self.now(), only_due=False)
        return await self.drain()
