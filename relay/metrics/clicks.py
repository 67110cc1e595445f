"""Recording clicks on tracked links without slowing the redirect down.

The redirect is the one path a reader waits on, so it does no I/O for a click: it puts
a :class:`ClickEvent` on an in-memory queue and answers. A background task drains the
queue in batches (every ``batch_size`` clicks or ``flush_interval`` seconds, whichever
comes first), and everything that costs time happens there, in a worker thread:
classifying the user agent, hashing the address, spotting repeats, one INSERT per batch.
On a graceful shutdown :meth:`ClickRecorder.stop` drains the queue to the last click.

A reader is an address: one address counts at most one human click per link in any
30 seconds, whatever User-Agent it sends (a script that rotates 1,000 browser names is
still one reader; human clicks choose the evergreen re-share and the best template).

Privacy: the address is never stored. What is stored is an HMAC of address and user
agent under a salt drawn at random once per UTC day (kept in memory and in the
``click_salts`` table, where older salts are deleted), so a click can be told apart
from a repeat on the same day and from nothing else afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from relay.metrics.bots import classify_user_agent
from relay.store.links import LinkTarget
from relay.store.metrics_store import insert_clicks, salt_for_day

log = logging.getLogger("relay.clicks")

REPEAT_WINDOW = timedelta(seconds=30)
MAX_USER_AGENT = 512


@dataclass(frozen=True, slots=True)
class ClickEvent:
    """What the redirect knows about one request, captured without any work."""

    link: LinkTarget
    at: datetime
    method: str
    client_ip: str
    user_agent: str
    referrer: str


def referrer_host(referrer: str) -> str | None:
    """Only the referring site (``t.co``, ``www.google.com``): its path may carry private data."""
    if not referrer:
        return None
    try:
        host = urlsplit(referrer).hostname
    except ValueError:
        return None
    return host[:255] if host else None


class ClientHasher:
    """Keyed hashes of (address, user agent) under a salt that changes every UTC day."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._salts: dict[str, bytes] = {}

    def load_salts(self, moments: list[datetime]) -> None:
        """Fetch (or draw) the salt of each day in ``moments``: the only I/O of hashing.

        Done for a whole batch before any click is judged, so a database error leaves
        nothing half-processed and the batch can simply be tried again.
        """
        days = {m.astimezone(UTC).date().isoformat(): m for m in moments}
        for day, moment in sorted(days.items()):
            if day not in self._salts:
                self._salts[day] = salt_for_day(self.engine, day, moment).encode()
        for day in [d for d in self._salts if d < min(days, default="")]:
            del self._salts[day]  # yesterday's salt is forgotten here too

    def client_hash(self, client_ip: str, user_agent: str, at: datetime) -> str:
        salt = self._salts[at.astimezone(UTC).date().isoformat()]
        message = f"{client_ip}\n{user_agent}".encode()
        return hmac.new(salt, message, hashlib.sha256).hexdigest()[:32]


class RepeatFilter:
    """Remembers, per address and link, when that address last fetched that link.

    A window that slides with each fetch: someone reloading every 20 seconds is one
    reader, not one every 30 seconds. Entries older than the window are pruned.
    """

    def __init__(self, window: timedelta = REPEAT_WINDOW) -> None:
        self.window = window
        self._last: dict[tuple[str, int], datetime] = {}

    def is_repeat(self, client_hash: str, link_id: int, at: datetime) -> bool:
        key = (client_hash, link_id)
        previous = self._last.get(key)
        self._last[key] = at if previous is None else max(previous, at)
        return previous is not None and abs(at - previous) < self.window

    def prune(self, now: datetime) -> None:
        cutoff = now - self.window
        for key in [k for k, seen in self._last.items() if seen < cutoff]:
            del self._last[key]


class ClickRecorder:
    """The queue between the redirect and the ``clicks`` table, and its background writer."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 256,
        flush_interval: float = 0.25,
        max_queue: int = 1_000_000,
    ) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self._queue: deque[ClickEvent] = deque()
        self._unwritten: list[dict[str, Any]] = []
        self._hasher = ClientHasher(engine)
        self._repeats = RepeatFilter()
        self._lock = asyncio.Lock()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # In-process counters, read by the Prometheus collector.
        self.submitted = 0
        self.written = 0
        self.dropped = 0
        self.batches = 0
        self.write_errors = 0

    @property
    def depth(self) -> int:
        """Clicks accepted but not yet in the database."""
        return len(self._queue) + len(self._unwritten)

    def submit(self, event: ClickEvent) -> None:
        """Queue one click (called on the event loop by the redirect: O(1), no I/O)."""
        if len(self._queue) >= self.max_queue:
            self.dropped += 1  # the database has been down for a long time; memory comes first
            return
        self._queue.append(event)
        self.submitted += 1
        if self._wake is not None and len(self._queue) >= self.batch_size:
            self._wake.set()

    async def start(self) -> None:
        """Start the background writer (from the app's lifespan)."""
        if self._task is None:
            self._stopping = False
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="relay-click-writer")

    async def stop(self) -> None:
        """Stop the writer and write every queued click before returning."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        for attempt in range(3):
            try:
                await self.flush()
                return
            except Exception:
                log.exception("writing clicks at shutdown failed", extra={"attempt": attempt + 1})
                await asyncio.sleep(0.5)
        log.error("clicks lost at shutdown: the database refused them", extra={"clicks": self.depth})

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("writing clicks failed; they stay queued and are tried again")
                await asyncio.sleep(min(5.0, self.flush_interval * 10))

    async def flush(self) -> int:
        """Write everything queued, in batches of at most ``batch_size``; returns how many.

        Under sustained load this keeps writing small batches back to back rather than one
        large batch per interval: measured with ``bench/bench_redirect.py``, the small batches
        hold the interpreter in short slices and keep the redirect's p99 lower (about 35-50
        ms against 70-80 ms at 64 connections), at the same throughput.
        """
        written = 0
        async with self._lock:
            while self._unwritten or self._queue:
                if not self._unwritten:
                    batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.batch_size))]
                    try:
                        self._unwritten = await asyncio.to_thread(self._prepare, batch)
                    except Exception:
                        self._queue.extendleft(reversed(batch))
                        self.write_errors += 1
                        raise
                try:
                    await asyncio.to_thread(insert_clicks, self.engine, self._unwritten)
                except Exception:
                    self.write_errors += 1
                    raise
                written += len(self._unwritten)
                self.written += len(self._unwritten)
                self.batches += 1
                self._unwritten = []
        return written

    def _prepare(self, batch: list[ClickEvent]) -> list[dict[str, Any]]:
        """Turn events into rows: classify, hash, and mark what does not count (and why)."""
        self._hasher.load_salts([event.at for event in batch])
        rows = []
        for event in batch:
            agent = classify_user_agent(event.user_agent)
            client = self._hasher.client_hash(event.client_ip, event.user_agent[:MAX_USER_AGENT], event.at)
            if event.method == "HEAD":
                reason: str | None = "head"
            elif not agent.is_human:
                reason = "bot"
            elif self._repeats.is_repeat(self._hasher.client_hash(event.client_ip, "", event.at),
                                         event.link.link_id, event.at):
                reason = "repeat"
            else:
                reason = None
            rows.append(
                {
                    "link_id": event.link.link_id,
                    "post_id": event.link.post_id,
                    "delivery_variant": event.link.delivery_variant,
                    "clicked_at": event.at,
                    "method": event.method[:8],
                    "referrer_host": referrer_host(event.referrer),
                    "ua_class": agent.kind,
                    "ua_name": agent.name,
                    "client_hash": client,
                    "human": reason is None,
                    "reason": reason,
                }
            )
        if batch:
            self._repeats.prune(batch[-1].at)
        return rows
