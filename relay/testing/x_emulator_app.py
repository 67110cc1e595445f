"""The X API v2 endpoints relay uses, served by FastAPI with X's status codes, bodies and headers.

Every endpoint passes the same gate, in X's order: authentication (401), authentication *kind*
(403 for an app-only token where a user is needed), the caller's rate window (429, with
``x-rate-limit-*`` headers on every answer of the endpoint), then the pay-per-use balance (402).
Scripted faults (see :mod:`relay.testing.x_emulator_control`) are applied by a middleware in front
of all of it, so a fault behaves like trouble in X's edge, not in its logic; a scripted *refusal*
is the exception: X refuses a post after the gate, so the endpoint plays it.

What a successful call costs is charged after it succeeded, as X bills: reads per resource
returned, writes per request (see :class:`relay.testing.x_emulator_state.Prices`).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import twitter_text
from fastapi import FastAPI, Request
from fastapi.responses import Response

from relay.testing import x_emulator_problems as problems
from relay.testing.x_emulator_control import add_control_routes, install_fault_middleware
from relay.testing.x_emulator_gate import Admitted, admit
from relay.testing.x_emulator_links import extract_cashtags
from relay.testing.x_emulator_media import (
    CHUNKED_CATEGORIES,
    CHUNKED_LIMITS,
    ONE_SHOT_MEDIA_TYPES,
    UPLOAD_MEDIA_TYPES,
    MultipartError,
    check_image,
    read_multipart,
)
from relay.testing.x_emulator_problems import XJSONResponse
from relay.testing.x_emulator_state import (
    MEDIA_LIFETIME_SECONDS,
    NON_PUBLIC_METRICS,
    DuplicateTweet,
    EmulatorState,
    StoredMedia,
    StoredTweet,
    TimelineQuery,
    UnknownMedia,
    UnknownPageToken,
)

# fmt: off
TWEET_FIELDS = (
    "article", "attachments", "author_id", "card_uri", "community_id", "context_annotations", "conversation_id",
    "created_at", "display_text_range", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
    "in_reply_to_user_id", "lang", "media_metadata", "non_public_metrics", "note_tweet", "organic_metrics",
    "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets", "reply_settings", "scopes",
    "source", "text", "withheld",
)
"""Accepted values of ``tweet.fields`` (X's list; the emulator fills in the ones relay reads)."""
EXPANSION_PARAMETERS = ("expansions", "media.fields", "place.fields", "poll.fields", "user.fields")
TIMELINE_PARAMETERS = (
    "end_time", "exclude", *EXPANSION_PARAMETERS, "max_results", "pagination_token", "since_id", "start_time",
    "tweet.fields", "until_id",
)
# fmt: on
EXCLUDE_VALUES = ("replies", "retweets")
PRIVATE_METRICS_MAX_AGE = timedelta(days=30)
MAX_ALT_TEXT = 1000
TWEET_ID_RULE = "does not match ^[0-9]{1,19}$"
_TWEET_ID = re.compile(r"^[0-9]{1,19}$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})$")
NO_UPLOAD = "The media id [{}] has no upload in progress."
EARLIEST_TIME = datetime(2010, 11, 6, tzinfo=UTC).timestamp()
"""``start_time``/``end_time`` cannot be earlier than 2010-11-06T00:00:00Z (X's docs)."""


async def json_body(request: Request) -> dict[str, Any] | None:
    try:
        payload = json.loads(await request.body() or b"null")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def iso_time(moment: datetime) -> str:
    """X's ``created_at``: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment:%f}"[:3] + "Z"


def render_tweet(tweet: StoredTweet, fields: set[str], author_id: str) -> dict[str, Any]:
    """A tweet object as X returns it: id, text (as X shows it) and edit history, plus asked fields."""
    out: dict[str, Any] = {"edit_history_tweet_ids": [tweet.id], "id": tweet.id, "text": tweet.display_text}
    if "created_at" in fields:
        out["created_at"] = iso_time(tweet.created_at)
    if "author_id" in fields:
        out["author_id"] = author_id
    if "public_metrics" in fields:
        out["public_metrics"] = dict(tweet.public_metrics)
    if "non_public_metrics" in fields:
        out["non_public_metrics"] = dict(tweet.non_public_metrics)
    if "entities" in fields and tweet.entities():
        out["entities"] = tweet.entities()
    if "attachments" in fields and tweet.media_keys:
        out["attachments"] = {"media_keys": list(tweet.media_keys)}
    return out


def unknown_parameter(request: Request, allowed: tuple[str, ...], headers: dict[str, str]) -> Response | None:
    """X refuses a query parameter it does not know: ``The query parameter [x] is not one of [...]``."""
    for name in request.query_params:
        if name not in allowed:
            return problems.invalid_parameters(
                [({name: [request.query_params[name]]}, f"The query parameter [{name}] {problems.one_of(allowed)}")],
                headers=headers,
            )
    return None


def requested_fields(request: Request, headers: dict[str, str]) -> set[str] | Response:
    raw = request.query_params.get("tweet.fields", "")
    fields = [name for name in raw.split(",") if name]
    for name in fields:
        if name not in TWEET_FIELDS:
            return problems.bad_parameter("tweet.fields", name, problems.one_of(sorted(TWEET_FIELDS)), headers=headers)
    return set(fields)


def parse_time(name: str, value: str, headers: dict[str, str]) -> float | Response:
    """An RFC 3339 ``start_time``/``end_time`` as epoch seconds, or X's 400."""
    if not _RFC3339.match(value):
        return problems.bad_parameter(name, value, "is not a valid RFC 3339 date-time (YYYY-MM-DDTHH:mm:ssZ)",
                                      headers=headers)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    if moment < EARLIEST_TIME:
        return problems.bad_parameter(name, value, "must be on or after 2010-11-06T00:00:00Z", headers=headers)
    return moment


def timeline_query(request: Request, headers: dict[str, str], fields: set[str]) -> TimelineQuery | Response:
    """The validated filters of GET /2/users/:id/tweets, or the 400 X answers."""
    query = request.query_params
    raw_max = query.get("max_results", "10")
    if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
        return problems.bad_parameter("max_results", raw_max, "is not between 5 and 100", headers=headers)
    ids: dict[str, int | None] = {}
    for name in ("since_id", "until_id"):
        value = query.get(name)
        if value is not None and not _TWEET_ID.match(value):
            return problems.bad_parameter(name, value, TWEET_ID_RULE, headers=headers)
        ids[name] = int(value) if value is not None else None
    times: dict[str, float | None] = {}
    for name in ("start_time", "end_time"):
        value = query.get(name)
        parsed = parse_time(name, value, headers) if value is not None else None
        if isinstance(parsed, Response):
            return parsed
        times[name] = parsed
    start, end = times["start_time"], times["end_time"]
    if start is not None and end is not None and end <= start:
        return problems.bad_parameter(
            "end_time", query["end_time"], f"must be later than the `start_time` value [{query['start_time']}]",
            headers=headers,
        )
    exclude = [value for value in query.get("exclude", "").split(",") if value]
    for value in exclude:
        if value not in EXCLUDE_VALUES:
            return problems.bad_parameter("exclude", value, problems.one_of(EXCLUDE_VALUES), headers=headers)
    token = query.get("pagination_token")
    if token is not None and not re.fullmatch(r"[A-Za-z0-9]{1,100}", token):
        return problems.bad_parameter("pagination_token", token, "is not valid", headers=headers)
    return TimelineQuery(
        max_results=int(raw_max),
        since_id=ids["since_id"],
        until_id=ids["until_id"],
        start_time=start,
        end_time=end,
        exclude=frozenset(exclude),
        pagination_token=token,
        recent_only="non_public_metrics" in fields,  # X narrows the timeline to the last 30 days then
    )


def media_data(state: EmulatorState, media: StoredMedia, *, with_size: bool = True) -> dict[str, Any]:
    """``data`` of a media upload answer (v2 docs: id, media_key, size, expires_after_secs, processing_info)."""
    data: dict[str, Any] = {"id": media.id, "media_key": media.key}
    if with_size:
        data["size"] = media.size
    # Whole seconds left, rounded up: X answers 86400 for media just uploaded (the recorded answers).
    data["expires_after_secs"] = max(0, math.ceil(media.uploaded_at + MEDIA_LIFETIME_SECONDS - state.clock()))
    info = state.processing_info(media)
    if info is not None:
        data["processing_info"] = info
    return data


def create_app(state: EmulatorState) -> FastAPI:
    """The emulator as an ASGI app over ``state`` (which tests may also read directly)."""
    app = FastAPI(
        title="X API v2 emulator (relay)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        default_response_class=XJSONResponse,
    )
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
        refusal = getattr(request.state, "x_refusal", None)
        if refusal is not None:
            return problems.problem(403, problems.REFUSALS[refusal], headers=gate.headers)
        if len(extract_cashtags(text)) > 1:
            return problems.problem(403, problems.CASHTAG_LIMIT_DETAIL, headers=gate.headers)
        try:
            tweet = state.create_tweet(text, tuple(media_ids))
        except DuplicateTweet:
            return problems.problem(403, problems.DUPLICATE_DETAIL, headers=gate.headers)
        except UnknownMedia:
            return problems.invalid_request(problems.INVALID_MEDIA_MESSAGE, headers=gate.headers)
        body = {"data": {"edit_history_tweet_ids": [tweet.id], "id": tweet.id, "text": tweet.display_text}}
        location = f"{str(request.base_url).rstrip('/')}/2/tweets/{tweet.id}"
        return XJSONResponse(body, status_code=201, headers={**gate.headers, "location": location})

    @app.delete("/2/tweets/{tweet_id}")
    async def delete_tweet(tweet_id: str, request: Request) -> Response:
        gate = await admit(request, state, "DELETE /2/tweets/:id")
        if isinstance(gate, Response):
            return gate
        if not _TWEET_ID.match(tweet_id):
            return problems.bad_parameter("id", tweet_id, TWEET_ID_RULE, headers=gate.headers)
        return XJSONResponse({"data": {"deleted": state.delete_tweet(tweet_id)}}, headers=gate.headers)

    @app.get("/2/users/me")
    async def users_me(request: Request) -> Response:
        gate = await admit(request, state, "GET /2/users/me")
        if isinstance(gate, Response):
            return gate
        config = state.config
        data = {"id": config.user_id, "name": config.name, "username": config.username}
        state.bill_user_reads("GET /2/users/me", 1)
        return XJSONResponse({"data": data}, headers=gate.headers)

    def lookup(ids: list[str], fields: set[str], gate: Admitted, parameter: str) -> tuple[list[Any], list[Any]]:
        """The tweets found, and X's per-item errors for the others (unknown, or private metrics refused)."""
        found = state.find_tweets(ids)
        now = state.clock()
        data: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for tweet_id in ids:
            tweet = found.get(tweet_id)
            if tweet is None:
                errors.append(problems.not_found_item("tweet", parameter, tweet_id))
                continue
            too_old = now - tweet.created_at.timestamp() > PRIVATE_METRICS_MAX_AGE.total_seconds()
            if "non_public_metrics" in fields and (not gate.caller.is_user or too_old):
                errors += [
                    problems.field_unauthorized_item(f"non_public_metrics.{name}", parameter, tweet_id)
                    for name in NON_PUBLIC_METRICS
                ]
                continue
            data.append(render_tweet(tweet, fields, state.config.user_id))
        return data, errors

    @app.get("/2/tweets")
    async def lookup_tweets(request: Request) -> Response:
        gate = await admit(request, state, "GET /2/tweets")
        if isinstance(gate, Response):
            return gate
        refused = unknown_parameter(request, ("ids", "tweet.fields", *EXPANSION_PARAMETERS), gate.headers)
        if refused is not None:
            return refused
        fields = requested_fields(request, gate.headers)
        if isinstance(fields, Response):
            return fields
        raw = request.query_params.get("ids", "")
        ids = [i for i in raw.split(",") if i]
        bad = [i for i in ids if not _TWEET_ID.match(i)]
        if bad:
            return problems.bad_parameter("ids", bad[0], TWEET_ID_RULE, headers=gate.headers)
        if not ids or len(ids) > 100:
            return problems.bad_parameter("ids", raw, "is not 1 to 100 comma-separated ids", headers=gate.headers)
        data, errors = lookup(ids, fields, gate, "ids")
        state.bill_post_reads("GET /2/tweets", [t["id"] for t in data], owned=False)
        body: dict[str, Any] = {"data": data} if data else {}
        if errors:
            body["errors"] = errors
        return XJSONResponse(body, headers=gate.headers)

    @app.get("/2/tweets/{tweet_id}")
    async def lookup_tweet(tweet_id: str, request: Request) -> Response:
        gate = await admit(request, state, "GET /2/tweets/:id")
        if isinstance(gate, Response):
            return gate
        refused = unknown_parameter(request, ("tweet.fields", *EXPANSION_PARAMETERS), gate.headers)
        if refused is not None:
            return refused
        fields = requested_fields(request, gate.headers)
        if isinstance(fields, Response):
            return fields
        if not _TWEET_ID.match(tweet_id):
            return problems.bad_parameter("id", tweet_id, TWEET_ID_RULE, headers=gate.headers)
        data, errors = lookup([tweet_id], fields, gate, "id")
        state.bill_post_reads("GET /2/tweets/:id", [t["id"] for t in data], owned=False)
        body: dict[str, Any] = {"data": data[0]} if data else {}
        if errors:
            body["errors"] = errors
        return XJSONResponse(body, headers=gate.headers)

    @app.get("/2/users/{user_id}/tweets")
    async def user_timeline(user_id: str, request: Request) -> Response:
        gate = await admit(request, state, "GET /2/users/:id/tweets")
        if isinstance(gate, Response):
            return gate
        refused = unknown_parameter(request, TIMELINE_PARAMETERS, gate.headers)
        if refused is not None:
            return refused
        fields = requested_fields(request, gate.headers)
        if isinstance(fields, Response):
            return fields
        if not _TWEET_ID.match(user_id):
            return problems.bad_parameter("id", user_id, TWEET_ID_RULE, headers=gate.headers)
        query = timeline_query(request, gate.headers, fields)
        if isinstance(query, Response):
            return query
        if user_id != state.config.user_id:
            return XJSONResponse({"errors": [problems.not_found_item("user", "id", user_id)]}, headers=gate.headers)
        try:
            page = state.timeline(query)
        except UnknownPageToken:
            return problems.bad_parameter("pagination_token", query.pagination_token or "", "is not valid",
                                          headers=gate.headers)
        meta: dict[str, Any] = {"result_count": len(page.tweets)}
        if page.tweets:
            meta |= {"newest_id": page.tweets[0].id, "oldest_id": page.tweets[-1].id}
        if page.next_token:
            meta["next_token"] = page.next_token
        if page.previous_token:
            meta["previous_token"] = page.previous_token
        body: dict[str, Any] = {}
        if page.tweets:
            body["data"] = [render_tweet(t, fields, user_id) for t in page.tweets]
        body["meta"] = meta
        # Owned read: the account's own timeline, read for the account by its own app.
        state.bill_post_reads("GET /2/users/:id/tweets", [t.id for t in page.tweets], owned=gate.caller.is_user)
        return XJSONResponse(body, headers=gate.headers)

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
        declared = form["media_type"].decode() if "media_type" in form else None
        if declared is not None and declared not in ONE_SHOT_MEDIA_TYPES:
            # X's one-shot upload takes still images (and subtitles); GIFs and videos go in chunks.
            return problems.invalid_request(
                f"The `media_type` value [{declared}] {problems.one_of(ONE_SHOT_MEDIA_TYPES)}", headers=gate.headers
            )
        mime, refusals = check_image(form.get("media", b""), category)
        if refusals:
            return problems.invalid_request(*refusals, headers=gate.headers)
        media = state.add_media(mime, len(form["media"]), category or "")
        return XJSONResponse({"data": media_data(state, media)}, headers=gate.headers)

    @app.post("/2/media/upload/initialize")
    async def upload_initialize(request: Request) -> Response:
        gate = await admit(request, state, "POST /2/media/upload/initialize")
        if isinstance(gate, Response):
            return gate
        payload = await json_body(request) or {}
        media_type, category = payload.get("media_type"), payload.get("media_category")
        total = payload.get("total_bytes")
        messages = []
        if media_type not in UPLOAD_MEDIA_TYPES:
            messages.append(f"The `media_type` value [{media_type}] {problems.one_of(UPLOAD_MEDIA_TYPES)}")
        if category not in CHUNKED_CATEGORIES:
            messages.append(f"The `media_category` value [{category}] {problems.one_of(CHUNKED_CATEGORIES)}")
        if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
            messages.append("The `total_bytes` value must be a positive integer.")
            total = 0
        elif isinstance(category, str) and total > CHUNKED_LIMITS.get(category, total):
            messages.append(f"File size exceeds {CHUNKED_LIMITS[category]} bytes for media_category [{category}].")
        if messages:
            return problems.invalid_request(*messages, headers=gate.headers)
        media = state.start_upload(str(media_type), total, str(category))
        return XJSONResponse({"data": media_data(state, media, with_size=False)}, headers=gate.headers)

    @app.post("/2/media/upload/{media_id}/append")
    async def upload_append(media_id: str, request: Request) -> Response:
        gate = await admit(request, state, "POST /2/media/upload/:id/append")
        if isinstance(gate, Response):
            return gate
        try:
            form = read_multipart(request.headers.get("content-type", ""), await request.body())
        except MultipartError as exc:
            return problems.invalid_request(str(exc), headers=gate.headers)
        raw_index = form.get("segment_index", b"").decode() or "missing"
        if not raw_index.isdigit() or int(raw_index) > 999:
            return problems.invalid_request(f"The `segment_index` value [{raw_index}] is not between 0 and 999.",
                                            headers=gate.headers)
        media = state.append_upload(media_id, int(raw_index), len(form.get("media", b"")))
        if media is None:
            return problems.invalid_request(NO_UPLOAD.format(media_id), headers=gate.headers)
        expires_at = int(media.uploaded_at + MEDIA_LIFETIME_SECONDS)
        return XJSONResponse({"data": {"expires_at": expires_at}}, headers=gate.headers)

    @app.post("/2/media/upload/{media_id}/finalize")
    async def upload_finalize(media_id: str, request: Request) -> Response:
        gate = await admit(request, state, "POST /2/media/upload/:id/finalize")
        if isinstance(gate, Response):
            return gate
        before = next((m for m in state.media() if m.id == media_id), None)
        if before is not None and before.state == "uploading" and sum(before.segments.values()) != before.total_bytes:
            received = sum(before.segments.values())
            return problems.invalid_request(
                f"File size mismatch: {received} bytes received, total_bytes was {before.total_bytes}.",
                headers=gate.headers,
            )
        media = state.finalize_upload(media_id)
        if media is None:
            return problems.invalid_request(NO_UPLOAD.format(media_id), headers=gate.headers)
        return XJSONResponse({"data": media_data(state, media)}, headers=gate.headers)

    @app.get("/2/media/upload")
    async def upload_status(request: Request) -> Response:
        gate = await admit(request, state, "GET /2/media/upload")
        if isinstance(gate, Response):
            return gate
        media_id = request.query_params.get("media_id", "")
        if request.query_params.get("command", "STATUS") != "STATUS":
            return problems.bad_parameter("command", request.query_params["command"], "is not one of [STATUS]",
                                          headers=gate.headers)
        media = state.upload_status(media_id)
        if media is None:
            return problems.bad_parameter("media_id", media_id, "is not a media id of this account",
                                          headers=gate.headers)
        data: dict[str, Any] = {"id": media.id, "media_key": media.key}
        info = state.processing_info(media)
        if info is not None:
            data["processing_info"] = info
        return XJSONResponse({"data": data}, headers=gate.headers)

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
        return XJSONResponse({"data": data}, headers=gate.headers)

    return app
