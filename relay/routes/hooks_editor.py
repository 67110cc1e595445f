"""The WordPress plugin's questions to relay, signed like the webhook.

* ``POST /hooks/wordpress/ping``: the plugin's "Test the connection" button. The answer
  tells apart a wrong secret (401, ``reason: "secret"``) from a clock that is off
  (401, ``reason: "clock"``, checked only once the signature matched, so only a holder of
  the secret learns it) and carries relay's time (``relay_time``, Unix seconds) so the
  plugin can say by how much. A request that is not signed at all gets ``reason: "unsigned"``.
* ``POST /hooks/wordpress/preview``: the tweet a post would make (the webhook's body with
  ``relay.message``), as relay composes and counts it.
* ``POST /hooks/wordpress/status``: what became of a post (``{"post": {"id", "link"}}``):
  its status, the link to its tweet on X, its human clicks.

Nothing here records a webhook id or changes anything: a replay learns only what the
plugin already asked. No answer repeats a secret or a signature.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from relay import __version__
from relay.routes.hooks import MAX_BODY_BYTES, _read_body, _Refused
from relay.routes.problems import problem
from relay.webhooks.editor import post_status, preview
from relay.webhooks.signatures import (
    SecretFormatError,
    SignatureError,
    SignatureMismatch,
    StaleTimestamp,
    check_secrets,
    verify,
)
from relay.webhooks.wordpress import configured_secrets
from relay.webhooks.wordpress_payload import PayloadError, parse_payload, post_reference

if TYPE_CHECKING:
    from relay.wiring import Runtime

SMALL_BODY_BYTES = 8 * 1024
"""A ping or a status question: a few hundred bytes."""

log = logging.getLogger("relay.webhooks")
router = APIRouter(tags=["webhooks"])

_SIGNED_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not valid JSON, or a header is malformed."},
    401: {"description": "Unsigned (`reason: unsigned`), signed with another secret (`reason: secret`), or "
                         "a timestamp more than 5 minutes from relay's clock (`reason: clock`); `relay_time` "
                         "is relay's time in Unix seconds."},
    413: {"description": "The body is larger than this route reads."},
    503: {"description": "Relay has no `[wordpress] secret` configured."},
}
_REQUEST_BODY = {"content": {"application/json": {"schema": {"type": "object"}}}, "required": False}


@router.post(
    "/hooks/wordpress/ping", response_model=None, openapi_extra={"requestBody": _REQUEST_BODY},
    responses={200: {"description": "Signed with the right secret, on time: `ok`, `relay_time`, `dry_run`."},
               **_SIGNED_ERRORS},
)
async def wordpress_ping(request: Request) -> Response:
    """The plugin's connection test: is relay there, is the secret the same, are the clocks together?"""
    runtime: Runtime = request.app.state.runtime
    try:
        await _verified(request, runtime, SMALL_BODY_BYTES)
    except _Refused as refused:
        return refused.response
    return JSONResponse({"ok": True, "relay_time": int(runtime.worker.now().timestamp()),
                         "dry_run": runtime.publisher.dry_run, "version": __version__})


@router.post(
    "/hooks/wordpress/preview", response_model=None, openapi_extra={"requestBody": _REQUEST_BODY},
    responses={200: {"description": "`text`, `weighted_length` (as X counts), `max_length`, `cut`, "
                                    "`uncut_length`, `custom_message`, `share`."},
               415: {"description": "The body is not declared as application/json."},
               422: {"description": "Valid JSON, but not a WordPress post event relay understands."},
               **_SIGNED_ERRORS},
)
async def wordpress_preview(request: Request) -> Response:
    """The tweet a post would make, with the author's message, counted as X counts it."""
    runtime: Runtime = request.app.state.runtime
    try:
        data = await _verified_json(request, runtime, MAX_BODY_BYTES)
        event = parse_payload(data)
    except _Refused as refused:
        return refused.response
    except PayloadError as exc:
        return problem(422, "Not a WordPress post event", str(exc))
    try:
        body = await asyncio.to_thread(preview, runtime.service, event, now=runtime.worker.now())
    except ValueError as exc:  # no tweet can carry the post's link at all
        return problem(422, "No tweet possible", str(exc))
    return JSONResponse(body)


@router.post(
    "/hooks/wordpress/status", response_model=None, openapi_extra={"requestBody": _REQUEST_BODY},
    responses={200: {"description": "`known`, `status`, `tweet_url` once posted, `human_clicks`."},
               415: {"description": "The body is not declared as application/json."},
               422: {"description": "The body does not name a post: `{\"post\": {\"id\": 12, \"link\": ...}}`."},
               **_SIGNED_ERRORS},
)
async def wordpress_status(request: Request) -> Response:
    """What relay did with one WordPress post: status, the tweet on X, human clicks."""
    runtime: Runtime = request.app.state.runtime
    try:
        data = await _verified_json(request, runtime, SMALL_BODY_BYTES)
        post = post_reference(data)
    except _Refused as refused:
        return refused.response
    except PayloadError as exc:
        return problem(422, "Not a WordPress post", str(exc))
    return JSONResponse(await asyncio.to_thread(post_status, runtime.service, post))


async def _verified(request: Request, runtime: Runtime, limit: int) -> bytes:
    """The body of a request signed with the webhook secret, else a ready refusal."""
    now = runtime.worker.now().timestamp()
    secrets = configured_secrets(runtime.settings.wordpress)
    if not secrets:
        raise _Refused(problem(503, "WordPress webhook not configured",
                               "relay has no webhook secret: set [wordpress] secret in relay's config "
                               "(or RELAY_WORDPRESS_SECRET), then restart relay", relay_time=int(now)))
    try:
        check_secrets(secrets)
    except SecretFormatError as exc:
        raise _Refused(problem(503, "WordPress webhook misconfigured", f"[wordpress] secret: {exc}",
                               relay_time=int(now))) from None
    body = await _read_body(request, limit)
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        verify(headers, body, secrets, now=now)
    except SignatureError as exc:
        reason = "secret" if isinstance(exc, SignatureMismatch) else "clock" if isinstance(exc, StaleTimestamp) \
            else "unsigned"
        log.warning("signed question refused", extra={"path": request.url.path, "reason": reason,
                                                       "client": request.client.host if request.client else None})
        raise _Refused(problem(401, "Invalid webhook signature", str(exc), reason=reason, relay_time=int(now),
                               headers={"WWW-Authenticate": 'HMAC realm="relay webhooks"'})) from None
    return body


async def _verified_json(request: Request, runtime: Runtime, limit: int) -> object:
    body = await _verified(request, runtime, limit)
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise _Refused(problem(415, "Unsupported Media Type",
                               "the body must be JSON sent with Content-Type: application/json"))
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _Refused(problem(400, "Invalid JSON", "the body is not valid JSON")) from None
