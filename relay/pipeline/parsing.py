"""Parsing feeds on every core: feedparser is pure Python and holds the GIL while it works.

An agency's round parses hundreds of changed feeds; in threads they all queue on one core.
``FeedParsers`` hands each body to a process pool sized to the machine, so a round uses every
core, and the event loop (redirects, the dashboard) never waits on a parse. A small install
(a few feeds) parses in a thread instead: a pool costs a process per core of resident memory,
which a blog with ten feeds should not pay.

The hostile-input caps live in :func:`relay.adapters.feed_parser.parse_feed` itself, so they
hold in a worker exactly as in a thread. A worker that dies on a body (killed for memory, say)
fails that feed with a clear error, and the pool is rebuilt for the next one.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from relay.adapters.feed_parser import parse_feed
from relay.core.models import FeedDocument
from relay.errors import FeedParseError

log = logging.getLogger("relay.parsing")

POOL_FROM_FEEDS = 50
"""With this many feeds or more, ``parse_processes = "auto"`` parses in a process pool."""


def processes_for(setting: int | None, feed_count: int) -> int:
    """How many parser processes to run: the setting, or for ``None`` ("auto") one per core on a big install."""
    if setting is not None:
        return setting
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if feed_count >= POOL_FROM_FEEDS and cores > 1 else 0


class FeedParsers:
    """Parse feed bodies in ``processes`` worker processes (0: in a thread of this process)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver, not fork: this process runs threads (the store, uvicorn) that a fork would copy mid-lock.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["relay.adapters.feed_parser"])
            self._pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=context,
                                             initializer=_leave_with, initargs=(os.getpid(),))
        return self._pool

    async def parse(self, body: bytes, *, url: str, headers: Mapping[str, str]) -> FeedDocument:
        if self.processes <= 0:
            return await asyncio.to_thread(parse_feed, body, url=url, headers=dict(headers))
        pool = self._executor()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(pool, _parse, body, url, dict(headers))
        except BrokenProcessPool:
            # The worker died on this body or a neighbour's; that body is not retried here, where it could
            # take relay down with it. The next parse gets a fresh pool.
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            log.error("a feed parser process died", extra={"feed": url})
            raise FeedParseError(
                f"the parser process stopped while reading {url} (out of memory?); relay will try again at the "
                "next check"
            ) from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _leave_with(relay_pid: int) -> None:
    """In each parser process: exit as soon as relay is gone, however it went.

    A parser process waits on a queue whose writing end it holds itself, so it never sees
    relay die; killed (SIGKILL, the OOM killer, a crash), relay would leave its parsers and
    their fork server running for good, 70 MB each. A thread watches relay's process
    (a pidfd, else a look every 2 s) and ends this one with it.
    """

    def watch() -> None:
        try:
            handle = os.pidfd_open(relay_pid)
        except (AttributeError, OSError):
            while _alive(relay_pid):
                time.sleep(2)
        else:
            select.select([handle], [], [])  # readable once relay has exited
        os._exit(0)

    threading.Thread(target=watch, name="relay-parser-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parse(body: bytes, url: str, headers: dict[str, str]) -> FeedDocument:
    """In a worker: keyword arguments do not travel through ``run_in_executor``."""
    return parse_feed(body, url=url, headers=headers)
