"""The Mastodon REST endpoints relay uses, served by FastAPI with Mastodon's codes, bodies and headers.

Following docs.joinmastodon.org (methods/statuses, methods/media, methods/accounts, methods/instance,
api/rate-limits, api/guidelines): errors are ``{"error": "..."}``; a bad token is 401 "The access token
is invalid", a token without the scope 403; a status over the limit is 422 "Validation failed: Text
character limit of N exceeded", counted the way Mastodon's ``StatusLengthValidator`` counts (see
:mod:`relay.core.mastodon_text`); the same ``Idempotency-Key`` within an hour answers the status it
made, 200, without posting again; an upload is 200 when processed at once, or 202 with ``url: null``
and ``GET /api/v1/media/:id`` 206 until it is; timelines page newest first with ``max_id``/``min_id``
and a ``Link`` header; every authenticated answer carries ``X-RateLimit-Limit/Remaining/Reset``
(the reset as an ISO 8601 time), and 429 once the window is used up. Scripted faults (status codes,
delays, "posted, then the proxy failed") are played by a middleware in front of it all.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote_plus, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from relay.core.mastodon_text import MastodonLimits, is_valid_status
from relay.core.twitter_text_lib import extract_urls_with_indices
from relay.testing.mastodon_emulator_state import MastodonEmulatorState, StoredMedia, StoredStatus
from relay.testing.x_emulator_media import MultipartError, read_multipart, sniff_image_type

INVALID_TOKEN = "The access token is invalid"
OUTSIDE_SCOPES = "This action is outside the authorized scopes"
NOT_FOUND = "Record not found"
TOO_MANY = "Too many requests"
NOT_PROCESSED = "Cannot attach files that have not finished processing. Try again in a moment!"
SUPPORTED_IMAGES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_STATUS_PATH = "/api/v1/statuses"
_HASHTAG = re.compile(r"(?<![\w/])#(\w+)")
_WITH_PROTOCOL = re.compile(r"^(https?://)(www\.)?", re.IGNORECASE)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def iso(moment: float) -> str:
    """Mastodon's datetimes: UTC, milliseconds, ``Z``."""
    value = datetime.fromtimestamp(moment, UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _link_html(url: str) -> str:
    """A URL as Mastodon's formatter writes it: scheme hidden, the rest cut visually at 30 characters."""
    match = _WITH_PROTOCOL.match(url)
    prefix = match.group(0) if match else ""
    rest = url[len(prefix):]
    shown, hidden = (rest[:30], rest[30:]) if len(rest) > 30 else (rest, "")
    shown_class = "ellipsis" if hidden else ""
    return (f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">{html.escape(prefix)}</span><span class="{shown_class}">{html.escape(shown)}'
            f'</span><span class="invisible">{html.escape(hidden)}</span></a>')


def _linkified(text: str, domain: str) -> str:
    urls = [(f["indices"][0], f["indices"][1], f["url"]) for f in extract_urls_with_indices(text)
            if _WITH_PROTOCOL.match(f["url"])]
    out: list[str] = []
    position = 0
    for start, end, url in urls:
        out.append(_hashtags_html(text[position:start], domain))
        out.append(_link_html(url))
        position = end
    out.append(_hashtags_html(text[position:], domain))
    return "".join(out).replace("\n", "<br />")


def _hashtags_html(segment: str, domain: str) -> str:
    parts: list[str] = []
    position = 0
    for match in _HASHTAG.finditer(segment):
        tag = match.group(1)
        parts.append(html.escape(segment[position:match.start()], quote=False))
        parts.append(f'<a href="https://{domain}/tags/{html.escape(tag.lower())}" class="mention hashtag" '
                     f'rel="tag">#<span>{html.escape(tag)}</span></a>')
        position = match.end()
    parts.append(html.escape(segment[position:], quote=False))
    return "".join(parts)


def render_content(text: str, domain: str) -> str:
    """The ``content`` HTML of a status: paragraphs, line breaks, links and hashtags as Mastodon renders them."""
    paragraphs = [p for p in re.split(r"\n{2,}", text.strip()) if p]
    return "".join(f"<p>{_linkified(paragraph, domain)}</p>" for paragraph in paragraphs)


class MastodonApp:
    """The routes, over one :class:`MastodonEmulatorState`."""

    def __init__(self, state: MastodonEmulatorState) -> None:
        self.state = state
        self.config = state.config

    # -- entities ---------------------------------------------------------------------------------

    def account(self, *, credentials: bool = False) -> dict[str, Any]:
        c = self.config
        found: dict[str, Any] = {
            "id": c.account_id, "username": c.username, "acct": c.username, "display_name": c.username,
            "locked": False, "bot": True, "group": False, "created_at": "2024-01-01T00:00:00.000Z", "note": "",
            "url": f"https://{c.domain}/@{c.username}", "avatar": f"https://{c.domain}/avatars/original/missing.png",
            "header": f"https://{c.domain}/headers/original/missing.png", "followers_count": 0,
            "following_count": 0, "statuses_count": len(self.state.statuses()), "emojis": [], "fields": [],
        }
        if credentials:
            found["source"] = {"privacy": "public", "sensitive": False, "language": None, "note": "", "fields": [],
                               "follow_requests_count": 0}
        return found

    def media_json(self, media: StoredMedia) -> dict[str, Any]:
        base = f"https://{self.config.domain}/system/media_attachments/files/{media.id}"
        return {"id": media.id, "type": "image", "url": f"{base}/original/image" if media.ready else None,
                "preview_url": f"{base}/small/image", "remote_url": None, "text_url": None, "meta": {},
                "description": media.description, "blurhash": None}

    def status_json(self, status: StoredStatus) -> dict[str, Any]:
        c = self.config
        media = {m.id: m for m in self.state.media()}
        tags = sorted({t.lower() for t in _HASHTAG.findall(status.text)})
        return {
            "id": status.id, "created_at": iso(status.created_at), "in_reply_to_id": None,
            "in_reply_to_account_id": None, "sensitive": bool(status.spoiler_text),
            "spoiler_text": status.spoiler_text, "visibility": status.visibility, "language": status.language,
            "uri": f"https://{c.domain}/users/{c.username}/statuses/{status.id}",
            "url": f"https://{c.domain}/@{c.username}/{status.id}", "replies_count": status.replies_count,
            "reblogs_count": status.reblogs_count, "favourites_count": status.favourites_count, "edited_at": None,
            "content": render_content(status.text, c.domain), "reblog": None, "account": self.account(),
            "media_attachments": [self.media_json(media[i]) for i in status.media_ids if i in media],
            "mentions": [], "tags": [{"name": t, "url": f"https://{c.domain}/tags/{t}"} for t in tags],
            "emojis": [], "card": None, "poll": None, "application": {"name": "relay", "website": None},
        }

    def instance(self) -> dict[str, Any]:
        c = self.config
        return {
            "domain": c.domain, "title": "Mastodon emulator", "version": "4.3.0", "source_url":
            "https://github.com/mastodon/mastodon", "description": "relay's test instance",
            "usage": {"users": {"active_month": 1}}, "languages": ["en", "fr"],
            "configuration": {
                "urls": {"streaming": f"wss://{c.domain}"},
                "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
                "statuses": {"max_characters": c.max_characters, "max_media_attachments": c.max_media_attachments,
                             "characters_reserved_per_url": c.characters_reserved_per_url},
                "media_attachments": {"supported_mime_types": list(SUPPORTED_IMAGES),
                                      "description_limit": c.description_limit,
                                      "image_size_limit": c.image_size_limit, "image_matrix_limit": 33177600,
                                      "video_size_limit": 103809024, "video_frame_rate_limit": 120,
                                      "video_matrix_limit": 8294400},
                "polls": {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300,
                          "max_expiration": 2629746},
                "translation": {"enabled": False},
            },
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "contact": {"email": f"admin@{c.domain}", "account": None}, "rules": [],
        }

    # -- gates ------------------------------------------------------------------------------------

    def token_ok(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token == self.config.access_token

    def authorize(self, request: Request, scope: str) -> JSONResponse | None:
        if not self.token_ok(request):
            return error(401, INVALID_TOKEN)
        if scope not in self.config.scopes:
            return error(403, OUTSIDE_SCOPES)
        return None

    # -- routes -----------------------------------------------------------------------------------

    async def post_status(self, request: Request) -> Response:
        if (refused := self.authorize(request, "write")) is not None:
            return refused
        replayed = self.state.replay(request.headers.get("idempotency-key"))
        if replayed is not None:
            return JSONResponse(self.status_json(replayed))
        body = await _params(request)
        text = str(body.get("status") or "")
        ids = body.get("media_ids") or body.get("media_ids[]") or []
        ids = [str(i) for i in (ids if isinstance(ids, list) else [ids])]
        if len(ids) > self.config.max_media_attachments:
            return error(422, f"Cannot attach more than {self.config.max_media_attachments} files")
        media = self.state.unattached_media(ids)
        if any(not m.ready for m in media):
            return error(422, NOT_PROCESSED)
        if not text.strip() and not media:
            return error(422, "Validation failed: Text can't be blank")
        limits = MastodonLimits(max_characters=self.config.max_characters,
                                characters_reserved_per_url=self.config.characters_reserved_per_url)
        spoiler = str(body.get("spoiler_text") or "")
        if text.strip() and not is_valid_status(spoiler + text, limits):
            return error(422, f"Validation failed: Text character limit of {self.config.max_characters} exceeded")
        visibility = str(body.get("visibility") or "public")
        if visibility not in ("public", "unlisted", "private", "direct"):
            return error(422, "Validation failed: Visibility is not included in the list")
        status = self.state.create_status(text, tuple(m.id for m in media),
                                          key=request.headers.get("idempotency-key"), visibility=visibility,
                                          spoiler_text=spoiler, language=body.get("language") or None)
        return JSONResponse(self.status_json(status))

    async def get_status(self, request: Request) -> Response:
        status = self.state.status(request.path_params["status_id"])
        return error(404, NOT_FOUND) if status is None else JSONResponse(self.status_json(status))

    async def verify_credentials(self, request: Request) -> Response:
        if (refused := self.authorize(request, "read")) is not None:
            return refused
        return JSONResponse(self.account(credentials=True))

    async def account_statuses(self, request: Request) -> Response:
        if request.path_params["account_id"] != self.config.account_id:
            return error(404, NOT_FOUND)
        query = request.query_params
        try:
            limit = min(max(int(query.get("limit", "20")), 1), 40)
        except ValueError:
            return error(400, "limit must be a number")
        found = list(reversed(self.state.statuses()))  # newest first
        # exclude_replies / exclude_reblogs change nothing: the emulated account posts neither.
        if (max_id := query.get("max_id")) and max_id.isdigit():
            found = [s for s in found if int(s.id) < int(max_id)]
        if (since_id := query.get("since_id")) and since_id.isdigit():
            found = [s for s in found if int(s.id) > int(since_id)]
        if (min_id := query.get("min_id")) and min_id.isdigit():
            found = [s for s in found if int(s.id) > int(min_id)][-limit:]
        page = found[:limit]
        headers: dict[str, str] = {}
        if page:
            base = f"{str(request.base_url).rstrip('/')}{request.url.path}"
            headers["Link"] = (f'<{base}?{urlencode({"limit": limit, "max_id": page[-1].id})}>; rel="next", '
                               f'<{base}?{urlencode({"limit": limit, "min_id": page[0].id})}>; rel="prev"')
        return JSONResponse([self.status_json(s) for s in page], headers=headers)

    async def upload_media(self, request: Request) -> Response:
        if (refused := self.authorize(request, "write")) is not None:
            return refused
        try:
            form = read_multipart(request.headers.get("content-type", ""), await request.body())
        except MultipartError as exc:
            return error(422, f"Validation failed: {exc}")
        data = form.get("file", b"")
        description = form["description"].decode("utf-8") if "description" in form else None
        if not data:
            return error(422, "Validation failed: File can't be blank")
        mime = sniff_image_type(data)
        if mime is None:
            return error(422, "Validation failed: File content type is invalid, File is invalid")
        if len(data) > self.config.image_size_limit:
            megabytes = self.config.image_size_limit // (1024 * 1024)
            return error(422, f"Validation failed: File file size must be less than {megabytes} MB")
        if description is not None and len(description) > self.config.description_limit:
            return error(422, "Validation failed: Description is too long "
                              f"(maximum is {self.config.description_limit} characters)")
        media = self.state.add_media(data, mime, description)
        return JSONResponse(self.media_json(media), status_code=200 if media.ready else 202)

    async def get_media(self, request: Request) -> Response:
        if (refused := self.authorize(request, "read")) is not None:
            return refused
        media, processing = self.state.poll_media(request.path_params["media_id"])
        if media is None:
            return error(404, NOT_FOUND)
        answer = self.media_json(media)
        if processing:
            answer["url"] = None
        return JSONResponse(answer, status_code=206 if processing else 200)

    async def get_instance(self, request: Request) -> Response:
        return JSONResponse(self.instance())


async def _params(request: Request) -> dict[str, Any]:
    """A status's parameters, sent as JSON or as a form (``media_ids[]`` repeated)."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    form: dict[str, Any] = {}
    for pair in raw.decode("utf-8", "replace").split("&"):
        name, _, value = pair.partition("=")
        name, value = unquote_plus(name), unquote_plus(value)
        if name.endswith("[]"):
            form.setdefault(name[:-2], []).append(value)
        elif name:
            form[name] = value
    return form


def _rate_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    moment = datetime.fromtimestamp(reset, UTC)
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


async def _buffered(response: Response) -> Response:
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
    return Response(body, status_code=response.status_code, headers=dict(response.headers))


def create_app(state: MastodonEmulatorState) -> FastAPI:
    routes = MastodonApp(state)
    app = FastAPI(title="Mastodon emulator", openapi_url=None, docs_url=None, redoc_url=None)
    app.add_api_route("/api/v2/instance", routes.get_instance, methods=["GET"])
    app.add_api_route("/api/v1/accounts/verify_credentials", routes.verify_credentials, methods=["GET"])
    app.add_api_route("/api/v1/accounts/{account_id}/statuses", routes.account_statuses, methods=["GET"])
    app.add_api_route(_STATUS_PATH, routes.post_status, methods=["POST"])
    app.add_api_route(_STATUS_PATH + "/{status_id}", routes.get_status, methods=["GET"])
    app.add_api_route("/api/v2/media", routes.upload_media, methods=["POST"])
    app.add_api_route("/api/v1/media/{media_id}", routes.get_media, methods=["GET"])

    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        await request.body()
        fault = state.take_fault(request.method, path, fnmatchcase)
        headers: dict[str, str] = {}
        response: Response | None = None
        if fault is not None and not fault.accept_then_fail:
            await asyncio.sleep(fault.delay)
            if fault.status:
                response = error(fault.status, "Emulated failure")
        if response is None and routes.token_ok(request):
            config = state.config
            buckets = [("account", config.rate_limit)]
            if request.method == "POST" and path == _STATUS_PATH:
                buckets.append(("statuses", config.status_rate_limit))
            for bucket, limit in buckets:
                allowed, remaining, reset = state.take_request(bucket, limit)
                headers = _rate_headers(limit, remaining, reset)
                if not allowed:
                    response = error(429, TOO_MANY, headers)
                    break
        if response is None:
            response = await call_next(request)
            if fault is not None and fault.accept_then_fail:
                response = await _buffered(response)
                await asyncio.sleep(fault.delay)
                if response.status_code < 400:
                    response = error(fault.status or 502, "Emulated failure after the work was done")
            response.headers.update(headers)
        state.log_request({"method": request.method, "path": path, "query": request.url.query,
                           "status": response.status_code, "fault": fault is not None,
                           "idempotency_key": request.headers.get("idempotency-key")})
        return response

    return app
