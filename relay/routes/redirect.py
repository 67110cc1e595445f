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

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

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


@router.api_route("/r/{code}", methods=["GET", "HEAD"], include_in_schema=False)
async def follow_link(code: str, request: Request) -> Response:
    """302 to the UTM-tagged post URL; the click is queued, not written, before answering."""
    tracking: Tracking = request.app.state.tracking
    target = await tracking.links.resolve(code)
    if target is None:
        _UNKNOWN.inc()
        return HTMLResponse(_not_found_page(), status_code=404, headers=PAGE_HEADERS)
    headers = request.headers
    client = request.client
    tracking.clicks.submit(
        ClickEvent(
            link=target,
            at=datetime.now(UTC),
            method=request.method,
            client_ip=client.host if client else "",
            user_agent=headers.get("user-agent", ""),
            referrer=headers.get("referer", ""),
        )
    )
    _FOUND.inc()
    return Response(
        status_code=302,
        headers={"location": target.target_url, "cache-control": "private, no-store", "x-robots-tag": "noindex"},
    )
