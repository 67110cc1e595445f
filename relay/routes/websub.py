"""``/websub/{feed_id}``: the callback WebSub hubs call (W3C WebSub §5.3 and §7-8).

``GET`` is the hub's verification of intent: relay echoes ``hub.challenge`` only when the
feed has a subscription relay asked for with that topic and mode (``subscribe`` while
requested or live, ``unsubscribe`` while unsubscribing), and answers 404 otherwise, which
tells the hub relay does not want it. ``hub.mode=denied`` records the hub's refusal.

``POST`` is content distribution. The order of the checks is the point:

1. no subscription for this feed (never, denied, ended) → 410 Gone, which the spec says
   makes the hub delete its subscription;
2. the body is read with a 10 MB cap (the same as a polled feed) → 413;
3. ``X-Hub-Signature`` is checked on the raw bytes with that subscription's secret, before
   anything parses them. A missing or wrong signature is **ignored but answered 202**, the
   same empty answer as a good push: the spec says the subscriber MUST ignore such content
   and MAY still answer 2xx, and an identical answer gives a forger no oracle. The log and
   the subscription's ``last_error`` tell the operator;
4. only then the poller ingests it like a polled feed, and the worker is woken so a new
   post is tweeted at once. A body that is not a feed is logged and answered 202 too
   (resending it would not help); a failure of relay itself is a 500, which hubs retry.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from relay.errors import FeedError
from relay.routes.problems import DatabaseId, problem
from relay.store import websub_store as db
from relay.websub.signatures import SIGNATURE_HEADER, HubSignatureError, verify_hub_signature
from relay.websub.subscriber import accepts_push, confirm_intent, record_denial

if TYPE_CHECKING:
    from relay.wiring import Runtime

MAX_PUSH_BYTES = 10 * 1024 * 1024
"""The largest pushed body relay reads, as for a polled feed."""
MAX_CHALLENGE = 1024

log = logging.getLogger("relay.websub")
router = APIRouter(tags=["websub"])

_GET_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The challenge, echoed: relay asked for this subscription (or received a denial)."},
    400: {"description": "hub.challenge is missing or too long."},
    404: {"description": "relay did not ask for this subscription, topic or mode."},
}
_POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "Received. Unsigned or forged content is received too, and ignored (WebSub §8)."},
    410: {"description": "relay has no subscription for this feed: the hub should delete its own."},
    413: {"description": "The body is larger than 10 MB."},
}


_HUB_PARAMETERS = [
    {"name": "hub.mode", "in": "query", "required": True,
     "schema": {"type": "string", "enum": ["subscribe", "unsubscribe", "denied"]}},
    {"name": "hub.topic", "in": "query", "required": True, "schema": {"type": "string"}},
    {"name": "hub.challenge", "in": "query", "required": True,
     "schema": {"type": "string", "minLength": 1, "maxLength": MAX_CHALLENGE}},
    {"name": "hub.lease_seconds", "in": "query", "required": False, "schema": {"type": "integer"}},
    {"name": "hub.reason", "in": "query", "required": False, "schema": {"type": "string"}},
]
"""What hubs send (WebSub §5.3); read from the query by hand, declared here for the document."""


@router.get("/websub/{feed_id}", responses=_GET_RESPONSES, response_model=None,
            openapi_extra={"parameters": _HUB_PARAMETERS})
async def verify_intent(feed_id: DatabaseId, request: Request) -> Response:
    """A hub checks that relay really asked to (un)subscribe."""
    runtime: Runtime = request.app.state.runtime
    params = request.query_params
    mode, topic = params.get("hub.mode", ""), params.get("hub.topic", "")
    engine, now = runtime.store.engine, runtime.worker.now()
    if mode == "denied":
        found = await asyncio.to_thread(record_denial, engine, feed_id, topic=topic,
                                        reason=params.get("hub.reason", ""), now=now)
        return Response(status_code=200) if found else _not_ours()
    challenge = params.get("hub.challenge", "")
    if not challenge or len(challenge) > MAX_CHALLENGE:
        return problem(400, "Invalid hub.challenge", f"hub.challenge must have 1 to {MAX_CHALLENGE} characters")
    if not runtime.settings.websub.enabled:
        return _not_ours()
    confirmed = await asyncio.to_thread(
        confirm_intent, engine, feed_id, mode=mode, topic=topic, lease_seconds=_int(params.get("hub.lease_seconds")),
        default_lease=runtime.settings.websub.lease_seconds, now=now,
    )
    if not confirmed:
        log.warning("websub verification refused", extra={"feed_id": feed_id, "mode": mode[:32], "topic": topic})
        return _not_ours()
    return PlainTextResponse(challenge, headers={"X-Content-Type-Options": "nosniff"})


@router.post("/websub/{feed_id}", status_code=202, responses=_POST_RESPONSES, response_model=None)
async def receive_push(feed_id: DatabaseId, request: Request) -> Response:
    """A hub delivers the feed's new content."""
    runtime: Runtime = request.app.state.runtime
    engine, now = runtime.store.engine, runtime.worker.now()
    sub = await asyncio.to_thread(db.get_subscription, engine, feed_id)
    if not runtime.settings.websub.enabled or sub is None or not accepts_push(sub):
        return problem(410, "No subscription", "relay has no WebSub subscription for this feed")
    body = await _read_capped(request, MAX_PUSH_BYTES)
    if body is None:
        return problem(413, "Body too large", f"relay reads at most {MAX_PUSH_BYTES // (1024 * 1024)} MB",
                       headers={"Connection": "close"})
    try:
        method = verify_hub_signature(request.headers.get(SIGNATURE_HEADER), body, sub.secret)
    except HubSignatureError as exc:
        client = request.client.host if request.client else None
        log.warning("websub push ignored", extra={"feed_id": feed_id, "reason": str(exc), "client": client})
        if sub.last_error != (message := f"push ignored: {exc}"):  # a flood of forgeries costs no writes
            await asyncio.to_thread(db.update_subscription, engine, feed_id, last_error=message)
        return Response(status_code=202)
    await asyncio.to_thread(db.update_subscription, engine, feed_id, last_push_at=now)
    headers = {name: ", ".join(request.headers.getlist(name)) for name in request.headers}
    try:
        outcome = await runtime.poller.ingest_pushed(feed_id, body, headers, now)
    except FeedError as exc:
        log.warning("websub push is not a readable feed", extra={"feed_id": feed_id, "error": str(exc)})
        return Response(status_code=202)
    if outcome.queued:
        runtime.worker.wake()
    log.info("websub push", extra={"feed_id": feed_id, "signature": method, "new": outcome.new,
                                   "queued": outcome.queued, "held": outcome.held, "error": outcome.error})
    return Response(status_code=202)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it passes ``limit`` bytes (Content-Length is only a claim)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            return None
    return bytes(received)


def _not_ours() -> Response:
    return problem(404, "Not a subscription relay asked for", "relay did not request this subscription")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 12 else None
