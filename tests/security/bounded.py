"""Running work that old code could spin on for hours, with a generous bound and a clean stop.

A thread cannot be stopped, so the work runs in a forked child process that is killed
once the bound passes: a regression fails the test in seconds instead of hanging the
suite. Bounds are an order of magnitude above what the work takes on a busy 2-core
machine, and far below what the hostile inputs cost before they were bounded.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


def _child(connection: Connection, work: Callable[..., Any], args: tuple[Any, ...]) -> None:
    started = time.perf_counter()
    try:
        result = work(*args)
    except BaseException as exc:  # reported to the parent, which raises it there
        connection.send(("error", f"{type(exc).__name__}: {exc}", time.perf_counter() - started))
        return
    connection.send(("ok", result, time.perf_counter() - started))


def run_bounded(seconds: float, work: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``work(*args)`` in a child process; its result and duration, or AssertionError after ``seconds``."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, work, args), daemon=True)
    child.start()
    try:
        if not receiver.poll(seconds):
            raise AssertionError(f"{getattr(work, '__name__', work)} still running after {seconds:g} s")
        status, value, duration = receiver.recv()
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
    if status == "error":
        raise AssertionError(f"{getattr(work, '__name__', work)} failed: {value}")
    return value, duration
