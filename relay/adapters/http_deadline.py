"""One deadline for a whole HTTP exchange with Mastodon or Bluesky.

httpx bounds each step (connecting, each read) but not the exchange: a server that trickles
its answer a byte at a time never trips a read timeout. The outbox holds a delivery under a
lease that must outlast any request it makes (``publishing.lease_seconds``, checked against X's
deadline at start); past it, another worker may look for the post and try again while the
first request is still open. This transport ends the exchange once ``deadline`` has passed:
each step's timeout is cut to what is left when the request starts, and the body is read in
chunks, the deadline checked between them. So an exchange lasts at most ``deadline`` plus one
read timeout, which :func:`budget` keeps within X's deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx


class DeadlineTransport(httpx.BaseTransport):
    def __init__(self, deadline: float, inner: httpx.BaseTransport | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.deadline = deadline
        self._inner = inner or httpx.HTTPTransport()
        self._clock = clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = self._clock()
        steps = dict(request.extensions.get("timeout") or {})
        request.extensions["timeout"] = {name: self.deadline if value is None else min(value, self.deadline)
                                         for name, value in steps.items()} or dict.fromkeys(
            ("connect", "read", "write", "pool"), self.deadline)
        response = self._inner.handle_request(request)
        if self._clock() - started > self.deadline:
            response.close()
            raise httpx.ReadTimeout(f"no whole answer within {self.deadline:g} s", request=request)
        body = bytearray()
        stream = response.stream
        assert isinstance(stream, httpx.SyncByteStream)
        try:
            for chunk in stream:
                body += chunk
                if self._clock() - started > self.deadline:
                    raise httpx.ReadTimeout(f"no whole answer within {self.deadline:g} s", request=request)
        finally:
            stream.close()
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body),
                              extensions=response.extensions, request=request)

    def close(self) -> None:
        self._inner.close()


def budget(timeout_seconds: float, beyond: float) -> tuple[httpx.Timeout, DeadlineTransport]:
    """Per-step timeouts and a deadline whose worst case (deadline + one read) is X's deadline,
    ``timeout_seconds + beyond``: so the lease that covers a request to X covers these too."""
    read = timeout_seconds / 2
    return (httpx.Timeout(read, connect=min(5.0, read)),
            DeadlineTransport(deadline=timeout_seconds + beyond - read))
