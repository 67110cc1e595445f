"""``GET /r/CODE``: the tracked link in a tweet; answers 302 to the post and notes the click.

This is the hot path of relay: a popular tweet sends readers here by the thousand, and
each of them waits on this answer before seeing the post. So the handler does no I/O
once a code is known: the target comes from :class:`relay.store.links.LinkCache`, the
click goes on the recorder's in-memory queue, and the background writer does the rest.

The 302 is ``no-store`` so a browser asks again (and is counted again) on a later
visit, rather than replaying a cached redirect. An unknown code gets a small HTML page
with 404, never an error trace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from relay.metrics.clicks import ClickEvent
from relay.metrics.prometheus import REDIRECTS
from relay.metrics.tracking import Tracking
from relay.routes.dashboard import PAGE_HEADERS, render

router = APIRouter(tags=["links"])

_FOUND = REDIRECTS.labels(result="redirected")
_UNKNOWN = REDIRECTS.labels(result="unknown")


@cache
def _not_found_page() -> bytes:
    return render("not_found.html", lang="en").encode()


_FOUND_HEADERS = (("cache-control", "private, no-store"), ("x-robots-tag", "noindex"))
_NOT_FOUND_HEADERS = (*PAGE_HEADERS.items(), ("content-type", "text/html; charset=utf-8"))


async def _answer(
    tracking: Tracking, code: str, *, method: str, client_ip: str, user_agent: str, referrer: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for ``code``: a 302 to the post (the click queued, not written) or a 404 page."""
    target = await tracking.links.resolve(code)
    if target is None:
        _UNKNOWN.inc()
        return 404, list(_NOT_FOUND_HEADERS), _not_found_page()
    tracking.clicks.submit(ClickEvent(
        link=target, at=datetime.now(UTC), method=method, client_ip=client_ip, user_agent=user_agent,
        referrer=referrer,
    ))
    _FOUND.inc()
    return 302, [("location", target.target_url), *_FOUND_HEADERS], b""


@router.api_route("/r/{code}", methods=["GET", "HEAD"], include_in_schema=False)
async def follow_link(code: str, request: Request) -> Response:
    """302 to the UTM-tagged post URL; the click is queued, not written, before answering."""
    headers = request.headers
    status, answer_headers, body = await _answer(
        request.app.state.tracking, code, method=request.method,
        client_ip=request.client.host if request.client else "",
        user_agent=headers.get("user-agent", ""), referrer=headers.get("referer", ""),
    )
    response = Response(body, status_code=status)
    response.raw_headers.extend((name.encode(), _header_value(value)) for name, value in answer_headers)
    return response


class RedirectFastPath:
    """Answers ``GET``/``HEAD /r/CODE`` before the framework's routing and middleware, with the same answer.

    A popular tweet sends its readers through here; FastAPI's request objects, routing and
    middleware stack cost more than the redirect itself (``bench/bench_redirect.py``). Every
    other request goes on to the app unchanged.
    """

    def __init__(self, app: ASGIApp, tracking: Tracking) -> None:
        self.app = app
        self.tracking = tracking

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        code = path[3:] if path.startswith("/r/") else ""
        if not code or "/" in code or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope.get("headers") or ())
        client = scope.get("client")
        status, headers, body = await _answer(
            self.tracking, code, method=scope["method"], client_ip=client[0] if client else "",
            user_agent=request_headers.get(b"user-agent", b"").decode("latin-1"),
            referrer=request_headers.get(b"referer", b"").decode("latin-1"),
        )
        raw = [(name.encode(), _header_value(value)) for name, value in headers]
        raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body if scope["method"] == "GET" else b""})


def _header_value(value: str) -> bytes:
    """A header value as bytes; a post address with non-ASCII letters is percent-encoded (as browsers send it)."""
    return value.encode("ascii") if value.isascii() else quote(value, safe=_URL_SAFE).encode("ascii")


_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"
