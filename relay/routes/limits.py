"""Body limits for every route, enforced before any route reads, parses or authenticates.

A route that checks the token after FastAPI parsed the body (``POST /api/republish``),
or that reads the whole body before looking at it (``POST /login``), lets anyone make
relay hold whatever they send: 512 MB without a token once kept 635 MB. This ASGI
middleware sits in front of every route: a declared ``Content-Length`` over the route's
limit is answered 413 before a byte is read, and a body sent without one (chunked) is
counted as it arrives and cut off at the limit. Either way relay holds at most the
limit, and the client reads a problem+json answer saying what the limit is.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB = 1024
DEFAULT_LIMIT = 64 * KIB
"""Every route not listed in :data:`ROUTE_LIMITS`: forms and JSON commands are a few hundred bytes."""
ROUTE_LIMITS: tuple[tuple[str, int, str], ...] = (
    ("/hooks/wordpress/ping", 8 * KIB, "a connection test carries nothing"),
    ("/hooks/wordpress/status", 8 * KIB, "a status question names one post"),
    ("/hooks/wordpress", 1024 * KIB, "a post event is a few kilobytes"),
    ("/websub/", 10 * 1024 * KIB, "a pushed feed is read like a polled one, up to 10 MB"),
    ("/login", 8 * KIB, "the sign-in form holds only the token"),
    ("/api/", 16 * KIB, "API requests carry an address or nothing"),
)
"""(path prefix, bytes, why): the first prefix that matches gives the limit."""


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body without Content-Length passes its route's limit."""

    def __init__(self, limit: int, why: str) -> None:
        super().__init__(413, detail=_too_large(limit, why), headers={"Connection": "close"})


def limit_for(path: str) -> tuple[int, str]:
    for prefix, limit, why in ROUTE_LIMITS:
        if path == prefix or path.startswith(prefix):
            return limit, why
    return DEFAULT_LIMIT, "requests to this address carry little or no body"


def _too_large(limit: int, why: str) -> str:
    size = f"{limit // (1024 * KIB)} MB" if limit >= 1024 * KIB else f"{limit // KIB} KB"
    return f"the body is larger than {limit} bytes ({size}), the most relay reads here ({why}); send a smaller request"


class BodyLimitMiddleware:
    """Refuses or cuts off request bodies over their route's limit (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, why = limit_for(str(scope.get("path", "")))
        declared = [value for name, value in scope.get("headers", []) if name.lower() == b"content-length"]
        if declared:
            text = declared[0].decode("latin-1").strip()
            if len(declared) > 1 or not text.isdigit() or len(text) > 18:
                await _answer(send, 400, "Invalid Content-Length",
                              "Content-Length must be one number of bytes; send the request again without it "
                              "or with the body's real size")
                return
            if int(text) > limit:
                await _answer(send, 413, "Body too large", _too_large(limit, why))
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, why)
            return message

        await self.app(scope, counted, send)


async def _answer(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")],
    })
    await send({"type": "http.response.body", "body": body})
