"""The X API v2 endpoints relay uses, served by FastAPI with X's status codes, bodies and headers.

Every endpoint passes the same gate, in X's order: authentication (401), authentication *kind*
(403 for an app-only token where a user is needed), the caller's rate window (429, with
``x-rate-limit-*`` headers on every answer of the endpoint), then the pay-per-use balance (402).
Scripted faults (see :mod:`relay.testing.x_emulator_control`) are applied by a middleware in front
of all of it, so a fault behaves like trouble in X's edge, not in its logic.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import twitter_text
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from relay.testing import x_emulator_problems as problems
from relay.testing.x_emulator_control import add_control_routes, install_fault_middleware
from relay.testing.x_emulator_gate import admit
from relay.testing.x_emulator_media import MultipartError, check_image, read_multipart
from relay.testing.x_emulator_state import (
    MEDIA_LIFETIME_SECONDS,
    NON_PUBLIC_METRICS,
    DuplicateTweet,
    EmulatorState,
    StoredTweet,
    UnknownMedia,
)

# fmt: off
TWEET_FIELDS = frozenset({
    "attachments", "author_id", "context_annotations", "conversation_id", "created_at", "edit_controls",
    "edit_history_tweet_ids", "entities", "geo", "id", "in_reply_to_user_id", "lang", "non_public_metrics",
    "note_tweet", "organic_metrics", "possibly_sensitive", "promoted_metrics", "public_metrics",
    "referenced_tweets", "reply_settings", "source", "text", "withheld",
})
# fmt: on
PRIVATE_METRICS_MAX_AGE = timedelta(days=30)
MAX_ALT_TEXT = 1000
_TWEET_ID = re.compile(r"^[0-9]{1,19}$")


async def json_body(request: Request) -> dict[str, Any] | None:
    try:
        payload = json.loads(await request.body() or b"null")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def render_tweet(tweet: StoredTweet, fields: set[str], author_id: str) -> dict[str, Any]:
    """A tweet object as X returns it: id, text (t.co links) and edit history, plus asked fields."""
    out: dict[str, Any] = {"id": tweet.id, "text": tweet.display_text, "edit_history_tweet_ids": [tweet.id]}
    if "created_at" in fields:
        out["created_at"] = tweet.created_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{tweet.created_at:%f}"[:3] + "Z"
    if "author_id" in fields:
        out["author_id"] = author_id
    if "public_metrics" in fields:
        out["public_metrics"] = dict(tweet.public_metrics)
    if "non_public_metrics" in fields:
        out["non_public_metrics"] = dict(tweet.non_public_metrics)
    if "entities" in fields and tweet.urls:
        out["entities"] = {"urls": [asdict(entity) for entity in tweet.urls]}
    if "attachments" in fields and tweet.media_ids:
        out["attachments"] = {"media_keys": [f"3_{media_id}" for media_id in tweet.media_ids]}
    return out


def requested_fields(request: Request, headers: dict[str, str]) -> set[str] | Response:
    raw = request.query_params.get("tweet.fields", "")
    fields = {name for name in raw.split(",") if name}
    unknown = sorted(fields - TWEET_FIELDS)
    if unknown:
        return problems.invalid_request(
            f"The `tweet.fields` query parameter value [{unknown[0]}] is not one of {sorted(TWEET_FIELDS)}",
            headers=headers,
        )
    return fields


def create_app(state: EmulatorState) -> FastAPI:
    """The emulator as an ASGI app over ``state`` (which tests may also read directly)."""
    app = FastAPI(title="X API v2 emulator (relay)", docs_url=None, redoc_url=None, openapi_url=None)
    install_fault_middleware(app, state)
    add_control_routes(app, state)

    @app.post("/2/tweets")
    async def create_tweet(request: Request) -> Response:
        gate = await admit(request, state, "POST /2/tweets")
        if isinstance(gate, Response):
            return gate
        payload = await json_body(request)
        if payload is None:
            return problems.invalid_request("The request body is not a JSON object.", headers=gate.headers)
        text = payload.get("text", "")
        media = payload.get("media") or {}
        media_ids = media.get("media_ids", []) if isinstance(media, dict) else None
        if (
            not isinstance(text, str)
            or not isinstance(media_ids, list)
            or not all(isinstance(m, str) for m in media_ids)
        ):
            return problems.invalid_request(
                "`text` must be a string and `media.media_ids` a list of strings.", headers=gate.headers
            )
        if not text and not media_ids:
            return problems.invalid_request("A Tweet needs `text` or `media`.", headers=gate.headers)
        if len(media_ids) > 4:
            return problems.invalid_request("A Tweet can carry at most 4 images.", headers=gate.headers)
        if text:
            parsed = twitter_text.parse_tweet(text)
            if parsed.weightedLength > 280:
                return problems.invalid_request(problems.TOO_LONG_MESSAGE, headers=gate.headers)
            if not parsed.valid:
                return problems.invalid_request("Your Tweet text is invalid.", headers=gate.headers)
        try:
            tweet = state.create_tweet(text, tuple(media_ids))
        except DuplicateTweet:
            return problems.problem(403, problems.DUPLICATE_DETAIL, headers=gate.headers)
        except UnknownMedia:
            return problems.invalid_request(problems.INVALID_MEDIA_MESSAGE, headers=gate.headers)
        body = {"data": {"id": tweet.id, "text": tweet.display_text, "edit_history_tweet_ids": [tweet.id]}}
        return JSONResponse(body, status_code=201, headers=gate.headers)

    @app.get("/2/users/me")
    async def users_me(request: Request) -> Response:
        gate = await admit(request, state, "GET /2/users/me")
        if isinstance(gate, Response):
            return gate
        config = state.config
        data = {"id": config.user_id, "name": config.name, "username": config.username}
        return JSONResponse({"data": data}, headers=gate.headers)

    @app.get("/2/tweets")
    async def lookup_tweets(request: Request) -> Response:
        gate = await admit(request, state, "GET /2/tweets")
        if isinstance(gate, Response):
            return gate
        fields = requested_fields(request, gate.headers)
        if isinstance(fields, Response):
            return fields
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        bad = [i for i in ids if not _TWEET_ID.match(i)]
        if not ids or len(ids) > 100 or bad:
            value = bad[0] if bad else request.query_params.get("ids", "")
            return problems.invalid_request(
                f"The `ids` query parameter value [{value}] is not 1 to 100 ids matching ^[0-9]{{1,19}}$",
                headers=gate.headers,
            )
        found = state.find_tweets(ids)
        now = state.clock()
        data: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for tweet_id in ids:
            tweet = found.get(tweet_id)
            if tweet is None:
                errors.append(problems.not_found_item("tweet", "ids", tweet_id))
                continue
            too_old = now - tweet.created_at.timestamp() > PRIVATE_METRICS_MAX_AGE.total_seconds()
            if "non_public_metrics" in fields and (not gate.caller.is_user or too_old):
                errors += [
                    problems.field_unauthorized_item(f"non_public_metrics.{name}", "ids", tweet_id)
                    for name in NON_PUBLIC_METRICS
                ]
                continue
            data.append(render_tweet(tweet, fields, state.config.user_id))
        body: dict[str, Any] = {"data": data} if data else {}
        if errors:
            body["errors"] = errors
        return JSONResponse(body, headers=gate.headers)

    @app.get("/2/users/{user_id}/tweets")
    async def user_timeline(user_id: str, request: Request) -> Response:
        gate = await admit(request, state, "GET /2/users/:id/tweets")
        if isinstance(gate, Response):
            return gate
        fields = requested_fields(request, gate.headers)
        if isinstance(fields, Response):
            return fields
        if user_id != state.config.user_id:
            return JSONResponse({"errors": [problems.not_found_item("user", "id", user_id)]}, headers=gate.headers)
        query = request.query_params
        numbers = {name: query.get(name) for name in ("max_results", "since_id", "until_id", "pagination_token")}
        for name, value in numbers.items():
            if value is not None and not _TWEET_ID.match(value):
                return problems.invalid_request(
                    f"The `{name}` query parameter value [{value}] is not valid", headers=gate.headers
                )
        max_results = int(numbers["max_results"] or 10)
        if not 5 <= max_results <= 100:
            return problems.invalid_request(
                f"The `max_results` query parameter value [{max_results}] is not between 5 and 100",
                headers=gate.headers,
            )
        newest_first = sorted(state.tweets(), key=lambda t: int(t.id), reverse=True)
        lower = int(numbers["since_id"] or 0)
        upper = min(int(numbers["until_id"] or 2**64), int(numbers["pagination_token"] or 2**64 - 1) + 1)
        if "non_public_metrics" in fields:  # X narrows the timeline to the last 30 days then
            oldest = state.clock() - PRIVATE_METRICS_MAX_AGE.total_seconds()
            newest_first = [t for t in newest_first if t.created_at.timestamp() >= oldest]
        matching = [t for t in newest_first if lower < int(t.id) < upper]
        page, rest = matching[:max_results], matching[max_results:]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta |= {"newest_id": page[0].id, "oldest_id": page[-1].id}
        if rest:
            meta["next_token"] = rest[0].id
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [render_tweet(t, fields, user_id) for t in page]
        return JSONResponse(body, headers=gate.headers)

    @app.post("/2/media/upload")
    async def upload_media(request: Request) -> Response:
        gate = await admit(request, state, "POST /2/media/upload")
        if isinstance(gate, Response):
            return gate
        try:
            form = read_multipart(request.headers.get("content-type", ""), await request.body())
        except MultipartError as exc:
            return problems.invalid_request(str(exc), headers=gate.headers)
        category = form["media_category"].decode() if "media_category" in form else None
        mime, refusals = check_image(form.get("media", b""), category)
        if refusals:
            return problems.invalid_request(*refusals, headers=gate.headers)
        media = state.add_media(mime, len(form["media"]), category or "")
        data = {
            "id": media.id,
            "media_key": f"3_{media.id}",
            "size": media.size,
            "expires_after_secs": MEDIA_LIFETIME_SECONDS,
            "image": {"image_type": mime},
        }
        return JSONResponse({"data": data}, headers=gate.headers)

    @app.post("/2/media/metadata")
    async def media_metadata(request: Request) -> Response:
        gate = await admit(request, state, "POST /2/media/metadata")
        if isinstance(gate, Response):
            return gate
        payload = await json_body(request) or {}
        media_id = payload.get("id")
        alt = (payload.get("metadata") or {}).get("alt_text") or {}
        text = alt.get("text") if isinstance(alt, dict) else None
        if not isinstance(media_id, str) or not isinstance(text, str):
            return problems.invalid_request(
                'Expected {"id": ..., "metadata": {"alt_text": {"text": ...}}}.', headers=gate.headers
            )
        if len(text) > MAX_ALT_TEXT:
            return problems.invalid_request(f"Alt text is limited to {MAX_ALT_TEXT} characters.", headers=gate.headers)
        if not state.set_alt_text(media_id, text):
            return problems.invalid_request(
                f"The media id [{media_id}] was not uploaded by this account.", headers=gate.headers
            )
        data = {"id": media_id, "associated_metadata": {"alt_text": {"text": text}}}
        return JSONResponse({"data": data}, headers=gate.headers)

    return app
