"""Failed sign-ins and wrong tokens: counted per client, limited, and logged without the guess.

Without a limit, a script tries about 300 tokens a second against ``/login``, the API's
Bearer header or the dashboard's Basic auth. Each client address may fail
:data:`MAX_FAILURES` times in :data:`WINDOW_SECONDS`; after that it is answered 429 with
``Retry-After`` until its oldest failure leaves the window, whether its next guess is
right or not. Every failure is logged with the address and the door, never with what
was tried (a mistyped token is most of a real one).
"""

from __future__ import annotations

import logging
import time
from collections import deque

from starlette.requests import Request
from starlette.responses import Response

from relay.routes.problems import problem

MAX_FAILURES = 10
WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000
"""Clients remembered at once; past that the quietest are forgotten (memory stays bounded)."""

log = logging.getLogger("relay.auth")


class GuessLimiter:
    """Failures per client address over a sliding window."""

    def __init__(self, *, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def wait_for(self, client: str, now: float | None = None) -> float | None:
        """Seconds ``client`` must wait before trying again, or None when it may try now."""
        now = time.monotonic() if now is None else now
        failures = self._recent(client, now)
        if len(failures) < self.max_failures:
            return None
        return max(1.0, failures[0] + self.window - now)

    def failed(self, client: str, door: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        failures = self._recent(client, now)
        failures.append(now)
        self._failures[client] = failures
        if len(self._failures) > MAX_CLIENTS:
            for stale in sorted(self._failures, key=lambda c: self._failures[c][-1] if self._failures[c] else 0)[
                : len(self._failures) - MAX_CLIENTS
            ]:
                del self._failures[stale]
        log.warning("failed sign-in", extra={"client": client, "door": door, "recent_failures": len(failures)})


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limiter_of(request: Request) -> GuessLimiter:
    limiter = getattr(request.app.state, "guesses", None)
    if limiter is None:
        limiter = request.app.state.guesses = GuessLimiter()
    assert isinstance(limiter, GuessLimiter)
    return limiter


def too_many(request: Request) -> Response | None:
    """The 429 answer when this client failed too often lately, else None."""
    wait = limiter_of(request).wait_for(client_of(request))
    if wait is None:
        return None
    seconds = int(wait) + 1
    return problem(429, "Too many failed attempts",
                   f"this address sent {MAX_FAILURES} wrong tokens within {WINDOW_SECONDS:g} s; wait {seconds} s, "
                   "then try again with the token set in [api] token",
                   headers={"Retry-After": str(seconds)})


def record_failure(request: Request, door: str) -> None:
    limiter_of(request).failed(client_of(request), door)
