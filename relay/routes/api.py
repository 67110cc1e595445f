"""The read-only JSON API (``/api/posts``) and the Prometheus endpoint (``/metrics``).

The API answers with the same numbers as ``relay report`` (one builder feeds both). It
needs ``Authorization: Bearer <[api] token>``: without the header, 401 in
problem+json; with no token configured at all, 503 saying which setting to add, because
an API that anyone could read would publish the owner's unpublished drafts' results.

``/metrics`` is left open, as Prometheus scrapers expect: it shows counts only, never a
title or a URL. Put it behind the reverse proxy if even counts are private.
"""

from __future__ import annotations

import asyncio
import hmac
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from relay.metrics.prometheus import render_metrics
from relay.metrics.reports import build_report, network_dicts, network_totals, report_dict
from relay.metrics.tracking import Tracking
from relay.routes.guessing import record_failure, too_many
from relay.routes.problems import DatabaseId, problem
from relay.store.metrics_store import daily_human_clicks, snapshots_of

if TYPE_CHECKING:
    from relay.wiring import Runtime

router = APIRouter(tags=["api"])

MAX_POSTS = 500
TIMELINE_DAYS = 30
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="relay"'}


def refused(request: Request) -> Response | None:
    """The problem response when the request may not read the API, else None."""
    runtime: Runtime = request.app.state.runtime
    token = runtime.settings.api.token.get_secret_value()
    if not token:
        return problem(
            503,
            "API disabled",
            "the API is turned off: set [api] token in the config file (or RELAY_API_TOKEN) and restart relay",
        )
    if (limited := too_many(request)) is not None:
        return limited
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return problem(401, detail="send the API token as 'Authorization: Bearer <token>'", headers=_BEARER_CHALLENGE)
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        record_failure(request, "api bearer token")
        return problem(401, detail="this token is not the one set in [api] token", headers=_BEARER_CHALLENGE)
    return None


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.combine(date.fromisoformat(value), time(), UTC)


_LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "`since` is not a date, or `limit` is not between 1 and 500."},
}


@router.get("/api/posts", responses=_LIST_RESPONSES)
async def list_posts(
    request: Request,
    since: Annotated[str | None, Query(description="Only posts from this day on (YYYY-MM-DD).",
                                       json_schema_extra={"format": "date", "minLength": 10})] = None,
    limit: Annotated[int, Query(description="How many posts, newest first.",
                                json_schema_extra={"minimum": 1, "maximum": MAX_POSTS})] = 100,
) -> Response:
    """Relayed posts, newest first, with what went out on each network and its results, then the totals per
    network (X, Mastodon, Bluesky) over the posts listed; ``since=YYYY-MM-DD`` narrows."""
    if (denied := refused(request)) is not None:
        return denied
    try:
        start = _since(since)
    except ValueError:
        return problem(400, detail=f"since must be a date such as 2026-01-31, not {since!r}")
    if not 1 <= limit <= MAX_POSTS:
        return problem(400, detail=f"limit must be between 1 and {MAX_POSTS}")
    runtime: Runtime = request.app.state.runtime
    reports = await asyncio.to_thread(build_report, runtime.store.engine, since=start, limit=limit)
    return JSONResponse({"posts": [report_dict(r) for r in reports],
                         "networks": network_dicts(network_totals(reports))})


@router.get("/api/posts/{post_id}", responses={404: {"description": "relay has no post with this id."}})
async def get_post(request: Request, post_id: DatabaseId) -> Response:
    """One post: what went out on each network and its results, the snapshots read back from the networks,
    the totals per network, and human clicks per day (30 days)."""
    if (denied := refused(request)) is not None:
        return denied
    runtime: Runtime = request.app.state.runtime
    body = await asyncio.to_thread(_post_detail, runtime, post_id, datetime.now(UTC))
    if body is None:
        return problem(404, detail=f"no relayed post has id {post_id}")
    return JSONResponse(body)


def _post_detail(runtime: Runtime, post_id: int, now: datetime) -> dict[str, Any] | None:
    engine = runtime.store.engine
    reports = build_report(engine, post_id=post_id)
    if not reports:
        return None
    body = report_dict(reports[0])
    body["networks"] = network_dicts(network_totals(reports))
    body["snapshots"] = [
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in snap.items() if k != "id"}
        for snap in snapshots_of(engine, [t.delivery_id for t in reports[0].tweets])
    ]
    daily = daily_human_clicks(engine, now - timedelta(days=TIMELINE_DAYS), post_id=post_id)
    body["human_clicks_by_day"] = {day.isoformat(): count for day, count in sorted(daily.items())}
    return body


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus text format; the counts are read from the database at scrape time."""
    tracking: Tracking = request.app.state.tracking
    body = await asyncio.to_thread(render_metrics, tracking.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
