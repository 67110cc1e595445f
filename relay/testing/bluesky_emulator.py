"""An emulator of the AT Protocol PDS methods relay needs to post to Bluesky, over real HTTP.

It follows the XRPC API as documented (docs.bsky.app, the atproto lexicons) and as the reference
PDS behaves: every answer is JSON, every error ``{"error": "<Name>", "message": "..."}``.

- ``com.atproto.server.createSession`` (identifier: handle, DID or e-mail; password: the app
  password) gives ``accessJwt``, ``refreshJwt``, ``did``, ``handle``; a wrong one is 401
  ``AuthenticationRequired`` "Invalid identifier or password".
- ``com.atproto.server.refreshSession`` with the refresh token as bearer: new pair, the old refresh
  token revoked. An access token past its lifetime (read from the injected clock) is 400
  ``ExpiredToken`` "Token has expired"; an unknown one 401 ``InvalidToken``; none 401
  ``AuthenticationRequired``.
- ``com.atproto.repo.uploadBlob``: raw body, ``Content-Type`` kept; over ``max_blob_bytes``
  (1,000,000, the lexicon's limit for post images and card thumbnails) 400 ``BlobTooLarge``;
  answers ``{"blob": {"$type": "blob", "ref": {"$link": CID}, "mimeType", "size"}}``.
- ``com.atproto.repo.createRecord`` of ``app.bsky.feed.post``, ``rkey`` chosen by the caller or
  a TID: the record is validated as the lexicon says (text at most 300 graphemes and 3,000 UTF-8
  bytes, ``createdAt`` a datetime, facets well formed, ``app.bsky.embed.external`` with ``uri``,
  ``title``, ``description`` and a thumbnail blob that was uploaded, an image of at most 1,000,000
  bytes), or ``app.bsky.embed.images`` (1 to 4, each with ``alt``); invalid: 400
  ``InvalidRequest`` "Invalid app.bsky.feed.post record: ...". Stricter than the PDS on one point:
  a facet's bytes must lie inside the text (the PDS stores such a record and the app ignores the
  facet).
- A second ``createRecord`` with a record key already in the repository creates nothing and
  answers **500** ``{"error":"InternalServerError","message":"Internal Server Error"}``: that is
  what the reference PDS answers today (bluesky-social/atproto#3718, the same in indigo#873); an
  explicit error for it is proposed in bluesky-social/atproto#4728, not merged. So a client that
  retries with the same key must look the record up (``getRecord``) rather than trust the status.
- ``com.atproto.repo.getRecord`` (400 ``RecordNotFound`` "Could not locate record: <uri>").
- ``app.bsky.feed.getAuthorFeed`` (newest first, ``limit`` 1-100, default 50, opaque ``cursor``)
  and ``app.bsky.feed.getPosts`` (at most 25 ``uris``) with ``likeCount``, ``repostCount``,
  ``replyCount``, ``quoteCount`` and the external embed's view.
- Rate limits per method and window (``createSession``, ``createRecord``): 429
  ``RateLimitExceeded`` with ``ratelimit-limit``, ``ratelimit-remaining``, ``ratelimit-reset``
  (Unix seconds) and ``ratelimit-policy`` headers, on every answer of a limited method.
- Scripted faults for tests (:meth:`BlueskyEmulatorState.inject`): a status and error for the next
  calls of a method, optionally *after* doing the work (the answer lost on the way back).

Not emulated: DID and handle resolution, the firehose, repository commits and MST (the ``cid``
values are real CIDs of the record's JSON, not of its DAG-CBOR), labels, threads and replies,
images embeds' views and aspect ratios, video, quote posts, OAuth/DPoP, e-mail 2FA (``AuthFactorTokenRequired``).

Standalone::

    python -m relay.testing.bluesky_emulator --port 8398 --handle relay.test --app-password abcd-efgh-ijkl-mnop
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import regex
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relay.core.bluesky_tid import tid_from_int

POST = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_BLOB_BYTES = 1_000_000
MAX_TAG_GRAPHEMES = 64
MAX_TAG_BYTES = 640
RECORD_KEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
FEATURES = {"app.bsky.richtext.facet#link", "app.bsky.richtext.facet#mention", "app.bsky.richtext.facet#tag"}
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
_GRAPHEME = regex.compile(r"\X")


class XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.headers = status, error, message, headers or {}


def cid_for(data: bytes, codec: int) -> str:
    """A CIDv1 (sha2-256) in base32, ``codec`` 0x55 for raw blobs, 0x71 for records."""
    digest = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(digest).decode().lower().rstrip("=")


@dataclass
class Fault:
    """The next ``times`` calls of ``nsid`` answer ``status`` with ``error`` (after doing the work
    when ``after_work``); ``reset_in`` seconds goes in a 429's ``ratelimit-reset``."""

    nsid: str
    status: int
    error: str
    message: str = "Scripted fault"
    times: int = 1
    after_work: bool = False
    reset_in: int = 300


@dataclass
class StoredPost:
    rkey: str
    uri: str
    cid: str
    record: dict[str, Any]
    indexed_at: float
    seq: int
    counts: dict[str, int] = field(default_factory=lambda: {"like": 0, "repost": 0, "reply": 0, "quote": 0})


@dataclass
class EmulatorConfig:
    handle: str = "relay.test"
    did: str = "did:plc:relayemulator00000000000"
    email: str = "owner@example.com"
    app_password: str = "abcd-efgh-ijkl-mnop"
    access_lifetime_seconds: float = 2 * 3600
    refresh_lifetime_seconds: float = 90 * 86400
    max_blob_bytes: int = MAX_BLOB_BYTES
    session_rate_limit: int = 30
    record_rate_limit: int = 1666
    rate_window_seconds: int = 300


class BlueskyEmulatorState:
    """Everything the emulator holds, behind one lock; the clock is injected (tests move it)."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config or EmulatorConfig()
        self.clock = clock
        self.lock = threading.Lock()
        self.posts: dict[str, StoredPost] = {}
        self.blobs: dict[str, tuple[str, int]] = {}
        self.access: dict[str, float] = {}
        self.refresh: dict[str, float] = {}
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, str, int]] = []
        """(method, nsid, status) of every request, in order."""
        self.windows: dict[str, tuple[float, int]] = {}
        self._serial = 0
        self._seq = 0

    # -- for tests ------------------------------------------------------------------------------

    def inject(self, nsid: str, status: int, error: str, message: str = "Scripted fault", *, times: int = 1,
               after_work: bool = False, reset_in: int = 300) -> None:
        with self.lock:
            self.faults.append(Fault(nsid, status, error, message, times, after_work, reset_in))

    def set_counts(self, uri: str, *, likes: int = 0, reposts: int = 0, replies: int = 0, quotes: int = 0) -> None:
        with self.lock:
            post = next(p for p in self.posts.values() if p.uri == uri)
            post.counts = {"like": likes, "repost": reposts, "reply": replies, "quote": quotes}

    def seed_post(self, text: str, *, created_at: datetime, rkey: str | None = None,
                  facets: Sequence[dict[str, Any]] = (), embed: dict[str, Any] | None = None) -> StoredPost:
        """A post the account made earlier (not through the API under test)."""
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": created_at.isoformat()}
        if facets:
            record["facets"] = list(facets)
        if embed:
            record["embed"] = embed
        with self.lock:
            return self.store(rkey or self.next_tid(), record)

    def post_count(self) -> int:
        with self.lock:
            return len(self.posts)

    def count(self, nsid: str) -> int:
        """How many requests of ``nsid`` arrived."""
        with self.lock:
            return sum(1 for _, name, _ in self.calls if name == nsid)

    # -- internals ------------------------------------------------------------------------------

    def next_tid(self) -> str:
        self._serial += 1
        return tid_from_int((int(self.clock() * 1_000_000) << 10) | (self._serial % 1024))

    def _token(self, kind: str) -> str:
        self._serial += 1
        return f"emu-{kind}-{self._serial:06d}-{hashlib.sha256(f'{kind}{self._serial}'.encode()).hexdigest()[:16]}"

    def store(self, rkey: str, record: dict[str, Any]) -> StoredPost:
        self._seq += 1
        body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        post = StoredPost(rkey, f"at://{self.config.did}/{POST}/{rkey}", cid_for(body, 0x71), record,
                          self.clock(), self._seq)
        self.posts[rkey] = post
        return post

    def new_session(self) -> dict[str, str]:
        access, refresh = self._token("access"), self._token("refresh")
        now = self.clock()
        self.access[access] = now + self.config.access_lifetime_seconds
        self.refresh[refresh] = now + self.config.refresh_lifetime_seconds
        return {"accessJwt": access, "refreshJwt": refresh, "did": self.config.did, "handle": self.config.handle}

    def check_token(self, header: str | None, tokens: dict[str, float]) -> str:
        if not header or not header.startswith("Bearer "):
            raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
        token = header.removeprefix("Bearer ").strip()
        if token not in tokens:
            raise XrpcError(401, "InvalidToken", "Token could not be verified")
        if tokens[token] <= self.clock():
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        return token

    def take_rate(self, nsid: str, limit: int) -> dict[str, str]:
        """Count one call of a limited method; the headers its answer carries (429 past the limit)."""
        window = self.config.rate_window_seconds
        now = self.clock()
        start, used = self.windows.get(nsid, (now, 0))
        if now >= start + window:
            start, used = now, 0
        reset = int(start + window)
        headers = {"ratelimit-limit": str(limit), "ratelimit-reset": str(reset),
                   "ratelimit-policy": f"{limit};w={window}"}
        if used >= limit:
            headers["ratelimit-remaining"] = "0"
            raise XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
        self.windows[nsid] = (start, used + 1)
        headers["ratelimit-remaining"] = str(limit - used - 1)
        return headers

    def take_fault(self, nsid: str) -> Fault | None:
        for fault in self.faults:
            if fault.nsid == nsid:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None


# -- record validation (app.bsky.feed.post, as its lexicon says) --------------------------------

def _invalid(detail: str) -> XrpcError:
    return XrpcError(400, "InvalidRequest", f"Invalid {POST} record: {detail}")


def _check_blob(blob: Any, path: str, blobs: dict[str, tuple[str, int]]) -> None:
    if not isinstance(blob, dict) or blob.get("$type") != "blob" or not isinstance(blob.get("ref"), dict):
        raise _invalid(f"{path} should be a blob ref")
    cid = blob["ref"].get("$link")
    if cid not in blobs:
        raise XrpcError(400, "InvalidRequest", f"Could not find blob: {cid}")
    mime, size = blobs[cid]
    if not mime.startswith("image/"):
        raise _invalid(f"{path} mimeType ({mime}) not in accept list: image/*")
    if size > MAX_BLOB_BYTES:
        raise _invalid(f"{path} size ({size}) must not be larger than {MAX_BLOB_BYTES} bytes")


def validate_post(record: Any, blobs: dict[str, tuple[str, int]]) -> None:
    if not isinstance(record, dict):
        raise _invalid("Record must be an object")
    if record.get("$type", POST) != POST:
        raise XrpcError(400, "InvalidRequest", f"Invalid $type: expected {POST}, got {record.get('$type')}")
    text = record.get("text")
    if not isinstance(text, str):
        raise _invalid('Record must have the property "text"')
    data = text.encode("utf-8")
    if len(data) > MAX_TEXT_BYTES:
        raise _invalid(f"Record/text must not be longer than {MAX_TEXT_BYTES} characters")
    if len(_GRAPHEME.findall(text)) > MAX_GRAPHEMES:
        raise _invalid(f"Record/text must not be longer than {MAX_GRAPHEMES} graphemes")
    created = record.get("createdAt")
    if not isinstance(created, str) or not DATETIME.match(created):
        raise _invalid("Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)")
    facets = record.get("facets", [])
    if not isinstance(facets, list):
        raise _invalid("Record/facets must be an array")
    for number, facet in enumerate(facets):
        where = f"Record/facets/{number}"
        index = facet.get("index") if isinstance(facet, dict) else None
        start = index.get("byteStart") if isinstance(index, dict) else None
        end = index.get("byteEnd") if isinstance(index, dict) else None
        if not isinstance(start, int) or not isinstance(end, int) or start < 0 or end < 0:
            raise _invalid(f"{where}/index must have integer byteStart and byteEnd, 0 or more")
        if not start < end <= len(data):
            raise _invalid(f"{where}/index ({start}-{end}) must lie inside the text's {len(data)} bytes")
        features = facet.get("features")
        if not isinstance(features, list) or not features:
            raise _invalid(f'{where} must have the property "features"')
        for feature in features:
            kind = feature.get("$type") if isinstance(feature, dict) else None
            if kind not in FEATURES:
                raise _invalid(f"{where}/features must be one of {sorted(FEATURES)}")
            if kind.endswith("#link") and not re.match(r"^[a-z][a-z0-9+.-]*:\S+$", str(feature.get("uri", ""))):
                raise _invalid(f"{where}/features/uri must be a valid uri")
            if kind.endswith("#tag"):
                tag = str(feature.get("tag", ""))
                if not tag or len(tag.encode()) > MAX_TAG_BYTES or len(_GRAPHEME.findall(tag)) > MAX_TAG_GRAPHEMES:
                    raise _invalid(f"{where}/features/tag must be 1 to {MAX_TAG_GRAPHEMES} graphemes")
    embed = record.get("embed")
    if embed is not None:
        if isinstance(embed, dict) and embed.get("$type") == "app.bsky.embed.images":
            images = embed.get("images")
            if not isinstance(images, list) or not 1 <= len(images) <= 4:
                raise _invalid("Record/embed/images must hold 1 to 4 images")
            for number, image in enumerate(images):
                if not isinstance(image, dict) or not isinstance(image.get("alt"), str):
                    raise _invalid(f'Record/embed/images/{number} must have the property "alt"')
                _check_blob(image.get("image"), f"Record/embed/images/{number}/image", blobs)
            return
        if not isinstance(embed, dict) or embed.get("$type") != "app.bsky.embed.external":
            raise _invalid("Record/embed: the emulator knows only app.bsky.embed.external and .images")
        external = embed.get("external")
        if not isinstance(external, dict):
            raise _invalid('Record/embed must have the property "external"')
        for name in ("uri", "title", "description"):
            if not isinstance(external.get(name), str):
                raise _invalid(f'Record/embed/external must have the property "{name}"')
        if not re.match(r"^[a-z][a-z0-9+.-]*:\S+$", external["uri"]):
            raise _invalid("Record/embed/external/uri must be a valid uri")
        if "thumb" in external:
            _check_blob(external["thumb"], "Record/embed/external/thumb", blobs)


# -- the XRPC methods ---------------------------------------------------------------------------

def _post_view(state: BlueskyEmulatorState, post: StoredPost) -> dict[str, Any]:
    view: dict[str, Any] = {
        "uri": post.uri, "cid": post.cid,
        "author": {"did": state.config.did, "handle": state.config.handle},
        "record": post.record,
        "likeCount": post.counts["like"], "repostCount": post.counts["repost"],
        "replyCount": post.counts["reply"], "quoteCount": post.counts["quote"],
        "indexedAt": datetime.fromtimestamp(post.indexed_at, UTC).isoformat().replace("+00:00", "Z"),
    }
    embed = post.record.get("embed")
    if isinstance(embed, dict) and embed.get("$type") == "app.bsky.embed.external":
        external = dict(embed["external"])
        thumb = external.pop("thumb", None)
        if thumb:
            external["thumb"] = f"https://cdn.example/img/{state.config.did}/{thumb['ref']['$link']}@jpeg"
        view["embed"] = {"$type": "app.bsky.embed.external#view", "external": external}
    return view


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise XrpcError(400, "InvalidRequest", "Request body is not JSON") from exc
    if not isinstance(body, dict):
        raise XrpcError(400, "InvalidRequest", "Input must be an object")
    return body


def _limit(request: Request, default: int, maximum: int) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise XrpcError(400, "InvalidRequest", f"limit must be an integer from 1 to {maximum}")
    return int(raw)


METHODS = frozenset({
    "com.atproto.server.createSession", "com.atproto.server.refreshSession", "com.atproto.repo.getRecord",
    "com.atproto.repo.uploadBlob", "com.atproto.repo.createRecord", "app.bsky.feed.getAuthorFeed",
    "app.bsky.feed.getPosts",
})


def _handle(state: BlueskyEmulatorState, nsid: str, request: Request, raw: bytes) -> tuple[Any, dict[str, str]]:
    config, auth = state.config, request.headers.get("authorization")
    if nsid not in METHODS:
        raise XrpcError(501, "MethodNotImplemented", "Method Not Implemented")
    if nsid == "com.atproto.server.createSession":
        body = _json_body(raw)
        headers = state.take_rate(nsid, config.session_rate_limit)
        if body.get("identifier") not in (config.handle, config.did, config.email) or \
                body.get("password") != config.app_password:
            raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password", headers)
        return {**state.new_session(), "email": config.email, "active": True}, headers
    if nsid == "com.atproto.server.refreshSession":
        token = state.check_token(auth, state.refresh)
        del state.refresh[token]
        return state.new_session(), {}
    if nsid == "com.atproto.repo.getRecord":
        rkey = request.query_params.get("rkey", "")
        uri = f"at://{config.did}/{request.query_params.get('collection')}/{rkey}"
        stored = state.posts.get(rkey)
        if request.query_params.get("collection") != POST or stored is None:
            raise XrpcError(400, "RecordNotFound", f"Could not locate record: {uri}")
        return {"uri": stored.uri, "cid": stored.cid, "value": stored.record}, {}
    state.check_token(auth, state.access)
    if nsid == "com.atproto.repo.uploadBlob":
        data = raw
        mime = request.headers.get("content-type", "application/octet-stream")
        if len(data) > config.max_blob_bytes:
            raise XrpcError(400, "BlobTooLarge", f"This file is too large. It is {len(data)} bytes, "
                                                 f"the maximum is {config.max_blob_bytes} bytes.")
        cid = cid_for(data, 0x55)
        state.blobs[cid] = (mime, len(data))
        return {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(data)}}, {}
    if nsid == "com.atproto.repo.createRecord":
        body = _json_body(raw)
        headers = state.take_rate(nsid, config.record_rate_limit)
        if body.get("repo") not in (config.did, config.handle):
            raise XrpcError(400, "InvalidRequest", "Input/repo must be the session's own repository", headers)
        if body.get("collection") != POST:
            raise XrpcError(400, "InvalidRequest", f"the emulator stores only {POST} records", headers)
        given = body.get("record")
        record: dict[str, Any] = {"$type": POST, **given} if isinstance(given, dict) else {}
        try:
            validate_post(given if not isinstance(given, dict) else record, state.blobs)
        except XrpcError as exc:
            exc.headers.update(headers)
            raise
        rkey = body.get("rkey") or state.next_tid()
        if not isinstance(rkey, str) or not RECORD_KEY.match(rkey) or rkey in (".", ".."):
            raise XrpcError(400, "InvalidRequest", f"Invalid record key: {rkey}", headers)
        if rkey in state.posts:  # what the reference PDS does (atproto#3718): nothing stored, a 500
            raise XrpcError(500, "InternalServerError", "Internal Server Error", headers)
        post = state.store(rkey, record)
        commit = {"cid": cid_for(post.cid.encode(), 0x71), "rev": state.next_tid()}
        return {"uri": post.uri, "cid": post.cid, "commit": commit, "validationStatus": "valid"}, headers
    if nsid == "app.bsky.feed.getAuthorFeed":
        actor = request.query_params.get("actor")
        if actor not in (config.did, config.handle):
            raise XrpcError(400, "InvalidRequest", "Profile not found")
        limit = _limit(request, 50, 100)
        cursor = request.query_params.get("cursor")
        newest = sorted(state.posts.values(), key=lambda p: p.seq, reverse=True)
        if cursor:
            if not cursor.isdigit():
                raise XrpcError(400, "InvalidRequest", "Malformed cursor")
            newest = [p for p in newest if p.seq < int(cursor)]
        page = newest[:limit]
        answer: dict[str, Any] = {"feed": [{"post": _post_view(state, p)} for p in page]}
        if len(newest) > limit:
            answer["cursor"] = str(page[-1].seq)
        return answer, {}
    uris = request.query_params.getlist("uris")  # app.bsky.feed.getPosts
    if not uris or len(uris) > 25:
        raise XrpcError(400, "InvalidRequest", "uris must hold 1 to 25 AT URIs")
    by_uri = {p.uri: p for p in state.posts.values()}
    return {"posts": [_post_view(state, by_uri[u]) for u in uris if u in by_uri]}, {}


def create_app(state: BlueskyEmulatorState) -> Starlette:
    """The emulator's ASGI app: ``/xrpc/<nsid>``, the methods above, XRPC error bodies."""

    async def xrpc(request: Request) -> Response:
        nsid = request.path_params["nsid"]
        status, body, headers = 200, None, dict[str, str]()
        try:
            with state.lock:
                fault = state.take_fault(nsid)
            if fault is not None and not fault.after_work:
                raise XrpcError(fault.status, fault.error, fault.message,
                                {"ratelimit-reset": str(int(state.clock()) + fault.reset_in),
                                 "ratelimit-limit": "1", "ratelimit-remaining": "0"} if fault.status == 429 else {})
            raw = await request.body()
            with state.lock:
                body, headers = _handle(state, nsid, request, raw)
            if fault is not None:
                raise XrpcError(fault.status, fault.error, fault.message)
        except XrpcError as exc:
            status, body, headers = exc.status, {"error": exc.error, "message": exc.message}, exc.headers
        with state.lock:
            state.calls.append((request.method, nsid, status))
        return JSONResponse(body, status_code=status, headers=headers)

    return Starlette(routes=[Route("/xrpc/{nsid}", xrpc, methods=["GET", "POST"])])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m relay.testing.bluesky_emulator",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8398)
    parser.add_argument("--handle", default=EmulatorConfig.handle)
    parser.add_argument("--app-password", default=EmulatorConfig.app_password)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the emulator in the foreground until interrupted."""
    import uvicorn

    args = parse_args(argv)
    state = BlueskyEmulatorState(EmulatorConfig(handle=args.handle, app_password=args.app_password))
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
