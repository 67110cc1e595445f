"""``POST /hooks/wordpress``: the signed webhook the relay-connector plugin sends.

The order of the checks is the point of this module:

1. no secret configured → 503 (relay cannot tell a genuine request from a forged one);
2. the body is read with a 1 MiB cap (Content-Length is a claim, not a limit) → 413;
3. the signature is checked on the raw bytes, before any parsing → 401;
4. only then the content type (415), the JSON (400) and the post event (422);
5. a delivery id already processed → 200 and nothing done;
6. otherwise the event goes through the service (the outbox), the worker is woken, and
   the answer is 202 at once: posting to X happens after the response, never during it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from relay.routes.problems import problem
from relay.store.webhook_ids import MAX_ID_LENGTH, remember_webhook_id, webhook_id_seen
from relay.webhooks.signatures import SecretFormatError, SignatureError, check_secrets, verify
from relay.webhooks.wordpress import (
    WebhookResult,
    apply_wordpress_event,
    configured_secrets,
)
from relay.webhooks.wordpress_payload import PayloadError, WordPressEvent, parse_payload

if TYPE_CHECKING:
    from relay.wiring import Runtime

MAX_BODY_BYTES = 1024 * 1024
"""The largest body accepted (1 MiB); the plugin sends a few kilobytes."""

_ALREADY_PROCESSED = "this delivery was processed before; nothing was done again"

log = logging.getLogger("relay.webhooks")
router = APIRouter(tags=["webhooks"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "This delivery was already processed; nothing was done again."},
    202: {"description": "Accepted: `outcome` says what relay will do (queued, ignored, withdrawn...)."},
    400: {"description": "The body is not valid JSON, or a header is malformed."},
    401: {"description": "Unsigned, forged, or a timestamp more than 5 minutes from relay's clock."},
    413: {"description": "The body is larger than 1 MiB."},
    415: {"description": "The body is not declared as application/json."},
    422: {"description": "Valid JSON, but not a WordPress post event relay understands."},
    503: {"description": "Relay has no `[wordpress] secret` configured."},
}


class _Refused(Exception):
    """Stops the request with a ready problem response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@router.post("/hooks/wordpress", status_code=202, responses=_RESPONSES, response_model=None)
async def wordpress_webhook(request: Request) -> Response:
    """Receive a post event from WordPress (see ``deploy/wordpress/relay-connector``)."""
    runtime: Runtime = request.app.state.runtime
    try:
        return await _receive(request, runtime)
    except _Refused as refused:
        return refused.response


async def _receive(request: Request, runtime: Runtime) -> Response:
    settings = runtime.settings.wordpress
    secrets = configured_secrets(settings)
    if not secrets:
        return problem(
            503, "WordPress webhook not configured",
            "relay has no webhook secret: set [wordpress] secret in relay's config "
            "(or RELAY_WORDPRESS_SECRET) to the secret entered in WordPress under Settings → Relay, "
            "then restart relay",
        )
    try:
        check_secrets(secrets)
    except SecretFormatError as exc:
        return problem(503, "WordPress webhook misconfigured", f"[wordpress] secret: {exc}")

    body = await _read_body(request, MAX_BODY_BYTES)
    headers = {name.lower(): value for name, value in request.headers.items()}
    now = runtime.worker.now()
    try:
        delivery = verify(headers, body, secrets, now=now.timestamp())
    except SignatureError as exc:
        log.warning("webhook refused", extra={"reason": str(exc), "client": _client(request)})
        return problem(401, "Invalid webhook signature", str(exc),
                       headers={"WWW-Authenticate": 'HMAC realm="relay webhooks"'})
    if len(delivery.delivery_id) > MAX_ID_LENGTH:
        return problem(400, "Invalid webhook-id", f"webhook-id must be at most {MAX_ID_LENGTH} characters")

    event = _parse(request, body)
    if await asyncio.to_thread(webhook_id_seen, runtime.store.engine, delivery.delivery_id):
        log.info("webhook already processed", extra={"webhook_id": delivery.delivery_id})
        return JSONResponse({"outcome": "already_processed", "detail": _ALREADY_PROCESSED}, status_code=200)
    # Record the event first, the id after: a crash in between leaves the id unwritten, so the
    # plugin's retry is processed (and finds the post already recorded, one key per post).
    result = await asyncio.to_thread(
        apply_wordpress_event, runtime.service, event, on_update=settings.on_update, now=now,
    )
    await asyncio.to_thread(remember_webhook_id, runtime.store.engine, delivery.delivery_id, now)
    if result.outcome in ("queued", "already_known"):
        # "already_known" too: a retry after a crash finds its post recorded but maybe not yet posted.
        runtime.worker.wake()
    _log_result(delivery.delivery_id, event, result)
    return JSONResponse(result.as_json(event), status_code=202)


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes ``limit`` bytes, whatever it declared."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.strip().isdigit()):
            raise _Refused(problem(400, "Invalid Content-Length", "Content-Length must be a number of bytes"))
        if int(declared) > limit:
            raise _Refused(_too_large(limit))
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise _Refused(_too_large(limit))
    return bytes(received)


def _too_large(limit: int) -> Response:
    detail = f"the body is larger than {limit} bytes; a post event is a few kilobytes"
    return problem(413, "Body too large", detail, headers={"Connection": "close"})


def _parse(request: Request, body: bytes) -> WordPressEvent:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        shown = media_type or "no Content-Type"
        detail = f"the body must be JSON sent with Content-Type: application/json (got {shown})"
        raise _Refused(problem(415, "Unsupported Media Type", detail))
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise _Refused(problem(400, "Invalid JSON", "the body is not UTF-8 text")) from None
    except json.JSONDecodeError as exc:
        detail = f"the body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise _Refused(problem(400, "Invalid JSON", detail)) from None
    except RecursionError:
        detail = "the JSON is nested too deeply to be a post event; send the plugin's flat payload"
        raise _Refused(problem(400, "Invalid JSON", detail)) from None
    try:
        return parse_payload(data)
    except PayloadError as exc:
        raise _Refused(problem(422, "Not a WordPress post event", str(exc))) from None


def _log_result(delivery_id: str, event: WordPressEvent, result: WebhookResult) -> None:
    log.info(
        "wordpress webhook",
        extra={
            "webhook_id": delivery_id,
            "event": event.event,
            "status": event.status,
            "wordpress_id": event.post.wordpress_id,
            "url": event.post.url,
            "outcome": result.outcome,
            "reason": result.reason or None,
        },
    )


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None
