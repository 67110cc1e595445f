"""``relay`` with timers around the steps a post goes through, for finding where time goes.

    python bench/relay_traced.py TRACE_FILE serve      # instead of: python -m relay serve
    python bench/relay_traced.py TRACE_FILE worker     # instead of: python -m relay worker

Why a wrapper and not a profiler: the questions are how long a post waits at each step (the
route's database writes, the wake-up, the worker's round, the outbox's queries, the X call),
waits for the GIL or a SQLite lock included, and how the CPU of a worker splits between
parsing, triage, the database and the rest, across the threads ``asyncio.to_thread`` uses
(cProfile sees one thread). Each wrapped call records ``[name, start, wall seconds, thread
CPU seconds, thread]``; the CPU figure is ``time.thread_time()`` and means something only
for the blocking steps that run on one thread (it is ``null`` for coroutines, whose thread
runs other coroutines meanwhile). relay's code is not changed: the wrappers are put on the
classes and module names before the command runs, and cost a few microseconds a call.

Wrapped calls nest (``service.record_feed_entries`` includes the ``store.*`` calls it makes):
add up only steps that do not contain one another.

The events are appended to TRACE_FILE (one JSON array per line) four times a second by a
daemon thread: uvicorn re-raises SIGTERM after its graceful shutdown, so nothing registered
to run at exit would ever run.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EVENTS: list[tuple[str, float, float, float | None, str]] = []
FLUSH_SECONDS = 0.25


def _timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            start = time.time()
            try:
                return await function(*args, **kwargs)
            finally:
                EVENTS.append((name, start, time.time() - start, None, "loop"))

        return timed_async

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start, cpu = time.time(), time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            EVENTS.append((name, start, time.time() - start, time.thread_time() - cpu,
                           threading.current_thread().name))

    return timed


def install() -> None:
    """Wrap the steps of the webhook-to-X path and of a polling round."""
    from relay.adapters import x
    from relay.pipeline import polling, service, worker
    from relay.routes import hooks
    from relay.store import outbox, store

    for cls in (store.Store, outbox.OutboxQueries):
        for attr, value in list(vars(cls).items()):
            if inspect.isfunction(value) and not attr.startswith("_"):
                setattr(cls, attr, _timed(f"store.{attr}", value))
    # names a module imported from elsewhere: wrapped where the module looks them up
    for module, attr, label in ((hooks, "remember_webhook_id", "route.remember_webhook_id"),
                                (hooks, "apply_wordpress_event", "route.apply_wordpress_event"),
                                (hooks, "_receive", "route.total"),
                                (service, "compose_tweet", "compose_tweet"),
                                (polling, "parse_feed", "poll.parse_feed"),
                                (polling, "fetch", "poll.fetch")):
        setattr(module, attr, _timed(label, getattr(module, attr)))
    x.XPublisher.publish = _timed("x.publish", x.XPublisher.publish)  # type: ignore[method-assign]
    for name in ("wake", "recover", "drain"):
        setattr(worker.Worker, name, _timed(f"worker.{name}", getattr(worker.Worker, name)))
    polling.FeedPoller.poll = _timed("worker.poll", polling.FeedPoller.poll)  # type: ignore[method-assign]
    for name in ("publish_due", "triage_feed", "record_feed_entries"):
        setattr(service.RelayService, name, _timed(f"service.{name}", getattr(service.RelayService, name)))


def flush_forever(trace_file: Path) -> None:
    with trace_file.open("a", encoding="utf-8") as out:
        while True:
            time.sleep(FLUSH_SECONDS)
            taken = len(EVENTS)
            for event in EVENTS[:taken]:
                out.write(json.dumps(event) + "\n")
            del EVENTS[:taken]  # list operations are atomic under the GIL; appends go after ``taken``
            out.flush()


def read_trace(paths: list[Path], window: tuple[float, float]) -> list[list[Any]]:
    """The events of these trace files that started inside ``window`` (``time.time()`` bounds)."""
    events = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if window[0] <= event[1] <= window[1]:
                events.append(event)
    return events


def main() -> None:
    trace_file = Path(sys.argv[1])
    threading.Thread(target=flush_forever, args=(trace_file,), name="trace-flush", daemon=True).start()
    install()
    from relay.cli.main import cli

    cli.main(args=sys.argv[2:], prog_name="relay")


if __name__ == "__main__":
    main()
