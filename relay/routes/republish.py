"""Manual republish: ``POST /api/posts/{id}/republish`` and ``POST /api/republish`` by address.

Both need the API token. The text always differs from the post's earlier tweets (X refuses
duplicates). The address form fetches the page with the guarded fetcher: loopback,
private, link-local and metadata addresses are refused, after DNS and after every redirect.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from relay.adapters.page_post import post_from_fetched
from relay.adapters.safe_fetch import BlockedAddress, SafeFetcher
from relay.errors import FetchError, RelayError
from relay.routes.api import refused
from relay.routes.problems import DatabaseId, problem

if TYPE_CHECKING:
    from relay.pipeline.service import RepublishResult
    from relay.wiring import Runtime

router = APIRouter(tags=["republish"])


class RepublishByUrl(BaseModel):
    url: str = Field(description="The address of the blog post to post again (or for the first time).",
                     examples=["https://my-bakery.fr/2026/11/pain-au-levain/"])


class RepublishAnswer(BaseModel):
    post_id: int
    delivery_id: int
    text: str = Field(description="The tweet as it will be posted.")


def _answer(runtime: Runtime, result: RepublishResult) -> JSONResponse:
    runtime.worker.wake()
    return JSONResponse(
        {"post_id": result.post_id, "delivery_id": result.delivery_id, "text": result.text}, status_code=202
    )


@router.post("/api/posts/{post_id}/republish", status_code=202, response_model=RepublishAnswer,
             responses={401: {"description": "missing or wrong token"}, 404: {"description": "no such post"}})
async def republish_post(request: Request, post_id: DatabaseId) -> Response:
    """Post a known post again, with an alternate template and its own utm_content."""
    if (denied := refused(request)) is not None:
        return denied
    runtime: Runtime = request.app.state.runtime
    if not await asyncio.to_thread(runtime.store.has_post, post_id):
        return problem(404, detail=f"relay has no post #{post_id}; GET /api/posts lists them")
    result = await asyncio.to_thread(runtime.service.republish, post_id, datetime.now(UTC),
                                     templates=runtime.republish_templates(post_id))
    return _answer(runtime, result)


@router.post("/api/republish", status_code=202, response_model=RepublishAnswer,
             responses={400: {"description": "the address cannot be used"}, 401: {"description": "missing token"}})
async def republish_url(request: Request, body: RepublishByUrl) -> Response:
    """Post the blog post at ``url``: again if relay knows it, for the first time otherwise."""
    if (denied := refused(request)) is not None:
        return denied
    runtime: Runtime = request.app.state.runtime
    fetcher = SafeFetcher(allow_hosts=runtime.settings.fetch.allow_hosts)
    try:
        # Fetched on the event loop (waiting holds no thread), parsed in a thread (milliseconds).
        page = await fetcher.fetch_page_async(body.url)
        post = await asyncio.to_thread(post_from_fetched, body.url, page)
    except BlockedAddress as exc:
        return problem(400, title="Address refused", detail=str(exc))
    except FetchError as exc:
        return problem(400, title="Page not usable", detail=str(exc))
    try:
        result = await asyncio.to_thread(runtime.service.republish_page, post, datetime.now(UTC),
                                         templates=runtime.settings.wordpress.republish_templates)
    except RelayError as exc:
        return problem(409, detail=str(exc))
    return _answer(runtime, result)
