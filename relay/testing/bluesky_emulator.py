"""An emulator of the AT Protocol PDS methods relay needs to post to Bluesky, over real HTTP.

It follows the XRPC API as documented (docs.bsky.app, the atproto lexicons) and as the reference
PDS behaves: every answer is JSON, every error ``{"error": "<Name>", "message": "..."}``.

- ``com.atproto.server.createSession`` (identifier: handle, DID or e-mail; password: the app
  password) gives ``accessJwt``, ``refreshJwt`` (JWT-shaped, as the PDS's), ``did``, ``handle``,
  ``email``, ``emailConfirmed``, ``active``; a wrong one is 401 ``AuthenticationRequired`` "Invalid
  identifier or password".
- Tokens, as the PDS's ``AuthVerifier`` checks them: none, 401 ``AuthMissing`` "Authentication
  Required"; one the PDS did not issue, **400** ``InvalidToken`` "Token could not be verified"; one
  past its lifetime (read from the injected clock), 400 ``ExpiredToken`` "Token has expired"; a
  refresh token where an access token goes or the reverse, 400 ``InvalidToken`` "Invalid token
  type"; a malformed ``Authorization`` header, 400 ``InvalidToken``. ``uploadBlob`` first decodes
  the token as a JWT (to spot service tokens), so a bearer token that is no JWT at all is a bare
  500 there.
- ``com.atproto.server.refreshSession`` with the refresh token as bearer: a new pair, and the
  PDS's grace period (``rotateRefreshToken``): the used refresh token still refreshes for 2 hours
  (or until its own expiry, if sooner), each time giving a refresh token with the same next id;
  after that, 400 ``ExpiredToken`` "Token has been revoked".
- ``com.atproto.repo.uploadBlob``: raw body; ``Content-Type`` required (400 ``InvalidRequest``);
  up to 5 MiB, the PDS's upload limit (over it 413 ``PayloadTooLarge``) -- **not** the 1,000,000
  bytes of post images, which the PDS checks when a post names the blob. The type is sniffed from
  the bytes as the PDS does (file-type: PNG, JPEG, GIF, WebP here) and wins over the
  ``Content-Type``; bytes that start as a PNG and end before its image data (a signature followed
  by zeros) are a bare 500, as on the PDS. Other bytes are kept whatever they are: the PDS decodes
  no image. Answers ``{"blob": {"$type": "blob", "ref": {"$link": CID}, "mimeType", "size"}}``.
- ``com.atproto.repo.createRecord`` of ``app.bsky.feed.post``, ``rkey`` chosen by the caller or
  a TID: the record is validated as the PDS's lexicon validator does it, with its messages: text
  at most 3,000 UTF-8 bytes and 300 graphemes, ``createdAt`` a datetime, facets (byte indexes of 0
  or more -- not checked against the text, as on the PDS; links a valid URI, tags 64 graphemes;
  feature types it does not know pass), ``langs`` (3 at most, BCP-47), ``app.bsky.embed.external``
  (``uri``, ``title``, ``description``, an optional image thumbnail) or ``app.bsky.embed.images``
  (at most 4, each with ``alt``); a blob named must be an image of at most 1,000,000 bytes.
  Invalid: 400 ``InvalidRequest`` "Invalid app.bsky.feed.post record: <issue> at $.record.<path>",
  e.g. "grapheme too big (maximum 300, got 301) at $.record.text". Then each blob named must have
  been uploaded (400 ``BlobNotFound`` "Could not find blob: <CID>") and, until a record names it,
  be named with its own mimeType and size (400 ``InvalidMimeType``, ``InvalidSize``). Video and
  quote embeds are refused (not emulated); other unknown embed types are stored, as on the PDS.
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

Checked against the real PDS side by side: ``tests/test_bluesky_real_pds.py``.

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
"""The lexicon's ``maxSize`` of a post's images and of a link card's thumbnail."""
BLOB_UPLOAD_LIMIT = 5 * 1024 * 1024
"""What ``uploadBlob`` takes at most (the PDS's ``PDS_BLOB_UPLOAD_LIMIT``, 5 MiB by default)."""
REFRESH_GRACE_SECONDS = 2 * 3600
"""``REFRESH_GRACE_MS`` of the PDS's ``rotateRefreshToken``: how long a used refresh token still refreshes."""
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decodes_as_jwt(token: str) -> bool:
    """What ``jose.decodeJwt`` accepts: three dot-separated parts, the second a base64url JSON object."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return False
    return isinstance(claims, dict)


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
class StoredBlob:
    mime: str
    size: int
    permanent: bool = False
    """Named by a record already: the PDS checks a reference's mimeType and size only before that."""


@dataclass
class RefreshGrant:
    """A row of the PDS's ``refresh_token`` table: until when the id refreshes, and the id after it."""

    expires_at: float
    next_id: str | None = None


@dataclass
class EmulatorConfig:
    handle: str = "relay.test"
    did: str = "did:plc:relayemulator00000000000"
    email: str = "owner@example.com"
    app_password: str = "abcd-efgh-ijkl-mnop"
    access_lifetime_seconds: float = 2 * 3600
    refresh_lifetime_seconds: float = 90 * 86400
    blob_upload_limit: int = BLOB_UPLOAD_LIMIT
    refresh_grace_seconds: float = REFRESH_GRACE_SECONDS
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
        self.blobs: dict[str, StoredBlob] = {}
        self.access: dict[str, float] = {}
        """Access token -> when it expires (its ``exp``)."""
        self.refresh: dict[str, tuple[str, float]] = {}
        """Refresh token -> (its id, the ``jti``; when the token itself expires, its ``exp``)."""
        self.grants: dict[str, RefreshGrant] = {}
        """Refresh token id -> the PDS's ``refresh_token`` row (an id no longer here is revoked)."""
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

    def _token(self, kind: str, expires: float, jti: str | None = None) -> str:
        """A JWT-shaped token, as the PDS's are (a client can decode it; only the emulator knows it)."""
        self._serial += 1
        header = {"typ": "refresh+jwt" if kind == "refresh" else "at+jwt", "alg": "HS256"}
        claims: dict[str, Any] = {"scope": "com.atproto.refresh" if kind == "refresh" else "com.atproto.appPass",
                                  "sub": self.config.did, "aud": "did:web:bluesky-emulator.invalid",
                                  "iat": int(self.clock()), "exp": int(expires)}
        if jti is not None:
            claims["jti"] = jti
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        return f"{signing}.{_b64(hashlib.sha256(f'{signing}{self._serial}'.encode()).digest())}"

    def _refresh_id(self) -> str:
        self._serial += 1
        return base64.b64encode(hashlib.sha256(f"refresh-id-{self._serial}".encode()).digest()).decode()

    def store(self, rkey: str, record: dict[str, Any]) -> StoredPost:
        self._seq += 1
        body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        post = StoredPost(rkey, f"at://{self.config.did}/{POST}/{rkey}", cid_for(body, 0x71), record,
                          self.clock(), self._seq)
        self.posts[rkey] = post
        return post

    def new_session(self, refresh_id: str | None = None) -> dict[str, Any]:
        """A new access token and a refresh token with id ``refresh_id`` (a new id when None); the id's
        row is stored unless it exists already (``storeRefreshToken``'s ``onConflict doNothing``)."""
        now = self.clock()
        refresh_id = refresh_id or self._refresh_id()
        access_expires = now + self.config.access_lifetime_seconds
        refresh_expires = now + self.config.refresh_lifetime_seconds
        access, refresh = self._token("access", access_expires), self._token("refresh", refresh_expires, refresh_id)
        self.access[access] = access_expires
        self.refresh[refresh] = (refresh_id, refresh_expires)
        self.grants.setdefault(refresh_id, RefreshGrant(refresh_expires))
        return {"accessJwt": access, "refreshJwt": refresh, "did": self.config.did, "handle": self.config.handle,
                "email": self.config.email, "emailConfirmed": False, "active": True}

    def rotate_refresh(self, token: str) -> dict[str, Any]:
        """``refreshSession`` as the PDS's ``AccountManager.rotateRefreshToken`` does it.

        The token used keeps working for a grace period: its row's expiry is brought down to
        ``min(now + 2 h, its expiry)`` and it records the id of the token that follows it, so using
        it again (within the grace) gives a refresh token with that same next id. Past the grace (or
        once revoked) it is 400 ``ExpiredToken`` "Token has been revoked". Expired rows are tidied
        away on the way, as the PDS does.
        """
        token_id = self.refresh[token][0]
        grant = self.grants.get(token_id)
        now = self.clock()
        for gone in [key for key, row in self.grants.items() if row.expires_at <= now]:
            del self.grants[gone]
        if grant is None:
            raise XrpcError(400, "ExpiredToken", "Token has been revoked")
        expires = min(now + self.config.refresh_grace_seconds, grant.expires_at)
        if expires <= now:
            raise XrpcError(400, "ExpiredToken", "Token has been revoked")
        next_id = grant.next_id or self._refresh_id()
        grant.expires_at, grant.next_id = expires, next_id
        self.grants[token_id] = grant
        return self.new_session(next_id)

    def authenticate(self, header: str | None, kind: str, *, decodes: bool = False) -> str:
        """The bearer token of an XRPC call, checked as the PDS's ``AuthVerifier`` checks it.

        ``kind``: "access" (``authorization()``) or "refresh" (``refresh()``). ``decodes``: the method
        first decodes the token to see if it is a service token (``authorizationOrUserServiceAuth``,
        uploadBlob's), which throws on a token that is not a JWT at all: a bare 500.
        """
        if not header:
            raise XrpcError(401, "AuthMissing", "Authentication Required")
        parts = header.split(" ")
        if len(parts) != 2:
            raise XrpcError(400, "InvalidToken", "Malformed authorization header")
        scheme, token = parts[0].upper(), parts[1]
        if scheme not in ("BASIC", "BEARER", "DPOP"):
            raise XrpcError(400, "InvalidToken", f"Unsupported authorization type: {parts[0]}")
        if scheme != "BEARER" or not token:
            if kind == "refresh" or scheme == "BEARER":
                raise XrpcError(401, "AuthMissing", "Authentication Required")
            raise XrpcError(400, "InvalidToken", "Unexpected authorization type")  # DPoP (OAuth): not emulated
        if decodes and not _decodes_as_jwt(token):
            raise XrpcError(500, "InternalServerError", "Internal Server Error")
        expires = self.access.get(token) if token in self.access else \
            self.refresh[token][1] if token in self.refresh else None
        if expires is None:
            raise XrpcError(400, "InvalidToken", "Token could not be verified")
        if expires <= self.clock():
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        if (token in self.refresh) != (kind == "refresh"):
            raise XrpcError(400, "InvalidToken", "Invalid token type")
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


# -- uploaded bytes: what the PDS sniffs (file-type 16.5.4, ``fromStream``) ----------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sniff_mime(data: bytes) -> str | None:
    """The type the PDS reads in a blob's bytes, which wins over the request's ``Content-Type``.

    PNG as file-type reads it: after the signature, chunk after chunk (length, type, data and CRC)
    until an ``IDAT`` (image/png) or ``acTL`` (image/apng) chunk; a chunk length of 2^31 or more
    ends the search with no type. Bytes that end first (a PNG signature followed by zeros, a PNG
    without image data) throw file-type's ``EndOfStreamError``, which the PDS does not catch: a
    bare 500. Besides: JPEG, GIF and WebP by their signatures. Other bytes: None (the request's
    ``Content-Type`` stands, whatever the bytes are: the PDS decodes no image at upload).
    """
    if data.startswith(PNG_SIGNATURE):
        at = 8
        while True:
            if at + 8 > len(data):
                raise XrpcError(500, "InternalServerError", "Internal Server Error")
            length = int.from_bytes(data[at:at + 4], "big", signed=True)
            kind = data[at + 4:at + 8]
            if length < 0:
                return None
            if kind == b"IDAT":
                return "image/png"
            if kind == b"acTL":
                return "image/apng"
            at += 8 + length + 4
            if at > len(data):
                raise XrpcError(500, "InternalServerError", "Internal Server Error")
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


# -- record validation (app.bsky.feed.post, as the PDS's lexicon validator says it) --------------

_URI = re.compile(r"^\w+:(?://)?[^\s/][^\s]*$", re.ASCII)
_DID = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$")
_LANGUAGE = re.compile(
    r"^((en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn|i-tao|i-tay"
    r"|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE)|(art-lojban|cel-gaulish|no-bok|no-nyn|zh-guoyu|zh-hakka|zh-min"
    r"|zh-min-nan|zh-xiang)|(([A-Za-z]{2,3}(-([A-Za-z]{3}(-[A-Za-z]{3}){0,2}))?)|[A-Za-z]{4}|[A-Za-z]{5,8})"
    r"(-([A-Za-z]{4}))?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(-([0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+))*(-(x(-[A-Za-z0-9]{1,8})+))?|(x(-[A-Za-z0-9]{1,8})+))$")
_FORMATS = {"uri": ("uri", _URI), "did": ("DID", _DID), "language": ("language", _LANGUAGE),
            "datetime": ("datetime", DATETIME)}
NOT_VALIDATED_EMBEDS = {"app.bsky.embed.video", "app.bsky.embed.record", "app.bsky.embed.recordWithMedia"}


def show(value: Any) -> str:
    """A value as the PDS's validation messages show it (lex-schema's ``stringifyValue``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if isinstance(value, str):
        return json.dumps(value if len(value) < 48 else value[:47] + "…", ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value[:2]) + (", ..." if len(value) > 2 else "") + "]"
    if isinstance(value, dict):
        keys = list(value)
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: ..." for k in keys[:2]) + \
            (", ..." if len(keys) > 2 else "") + "}"
    return type(value).__name__


class _Issue(Exception):
    """One validation issue and where (a JSON path below ``$.record``)."""

    def __init__(self, issue: str, path: str) -> None:
        super().__init__(issue)
        self.issue, self.path = issue, path


def _string(value: Any, path: str, *, max_bytes: int | None = None, max_graphemes: int | None = None,
            fmt: str | None = None) -> str:
    if not isinstance(value, str):
        raise _Issue(f"Expected string value type (got {show(value)})", path)
    if max_bytes is not None and len(value.encode("utf-8")) > max_bytes:
        raise _Issue(f"string too big (maximum {max_bytes}, got {len(value.encode('utf-8'))})", path)
    if max_graphemes is not None and len(_GRAPHEME.findall(value)) > max_graphemes:
        raise _Issue(f"grapheme too big (maximum {max_graphemes}, got {len(_GRAPHEME.findall(value))})", path)
    if fmt is not None and not _FORMATS[fmt][1].match(value):
        raise _Issue(f"Invalid {_FORMATS[fmt][0]} (got {show(value)})", path)
    return value


def _integer(value: Any, path: str, minimum: int) -> int:
    if isinstance(value, float) and not value.is_integer():  # not even a lexicon value: no "Invalid record"
        raise XrpcError(400, "InvalidRequest", "Expected one of null, boolean, integer, string, cid, bytes, array or "
                                               f"object value type (got {show(value)}) at {path}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Issue(f"Expected integer value type (got {show(value)})", path)
    if value < minimum:
        raise _Issue(f"integer too small (minimum {minimum}, got {show(value)})", path)
    return int(value)


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Issue(f"Expected object value type (got {show(value)})", path)
    return value


def _required(obj: dict[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise _Issue(f'Missing required key "{key}"', path)
    return obj[key]


def _typed(value: Any, path: str) -> str:
    """A member of an open union: an object with a ``$type`` (unknown types pass)."""
    if not isinstance(value, dict) or not isinstance(value.get("$type"), str):
        raise _Issue(f'Expected an object which includes the "$type" property value type (got {show(value)})', path)
    return str(value["$type"])


def _array(value: Any, path: str, max_length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise _Issue(f"Expected array value type (got {show(value)})", path)
    if max_length is not None and len(value) > max_length:
        raise _Issue(f"array too big (maximum {max_length}, got {len(value)})", path)
    return value


def _is_cid(text: Any) -> bool:
    if not isinstance(text, str) or not text.startswith("b"):
        return False
    try:
        raw = base64.b32decode(text[1:].upper() + "=" * (-len(text[1:]) % 8))
    except ValueError:
        return False
    return len(raw) == 36 and raw[0] == 1 and raw[2:4] == b"\x12\x20" and \
        "b" + base64.b32encode(raw).decode().lower().rstrip("=") == text


def _blob(value: Any, path: str, refs: list[tuple[str, str, int]]) -> None:
    """A blob ref as the lexicon has it for images (``accept: image/*``, ``maxSize`` 1,000,000), checked on
    what the record *says* of the blob; whether the PDS has it is checked after (``BlobNotFound``)."""
    ref = value.get("ref") if isinstance(value, dict) else None
    if not isinstance(value, dict) or value.get("$type") != "blob" or not isinstance(ref, dict) or \
            not _is_cid(ref.get("$link")) or not isinstance(value.get("mimeType"), str) or \
            isinstance(value.get("size"), bool) or not isinstance(value.get("size"), int):
        raise _Issue(f"Expected blob value type (got {show(value)})", path)
    if not value["mimeType"].startswith("image/"):
        raise _Issue(f'Expected "image/*" (got {show(value["mimeType"])})', f"{path}.mimeType")
    if value["size"] > MAX_BLOB_BYTES:
        raise _Issue(f"blob too big (maximum {MAX_BLOB_BYTES}, got {value['size']})", path)
    refs.append((str(ref["$link"]), value["mimeType"], value["size"]))


def _facets(value: Any, path: str) -> None:
    for number, facet in enumerate(_array(value, path)):
        where = f"{path}[{number}]"
        facet = _object(facet, where)
        index = _object(_required(facet, "index", where), f"{where}.index")
        for name in ("byteStart", "byteEnd"):  # the PDS does not check them against the text
            _integer(_required(index, name, f"{where}.index"), f"{where}.index.{name}", 0)
        for count, feature in enumerate(_array(_required(facet, "features", where), f"{where}.features")):
            at = f"{where}.features[{count}]"
            kind = _typed(feature, at)
            if kind == "app.bsky.richtext.facet#link":
                _string(_required(feature, "uri", at), f"{at}.uri", fmt="uri")
            elif kind == "app.bsky.richtext.facet#mention":
                _string(_required(feature, "did", at), f"{at}.did", fmt="did")
            elif kind == "app.bsky.richtext.facet#tag":
                _string(_required(feature, "tag", at), f"{at}.tag", max_bytes=MAX_TAG_BYTES,
                        max_graphemes=MAX_TAG_GRAPHEMES)


def _embed(value: Any, path: str, refs: list[tuple[str, str, int]]) -> None:
    kind = _typed(value, path)
    if kind == "app.bsky.embed.images":
        for number, image in enumerate(_array(_required(value, "images", path), f"{path}.images", 4)):
            where = f"{path}.images[{number}]"
            image = _object(image, where)
            _blob(_required(image, "image", where), f"{where}.image", refs)
            _string(_required(image, "alt", where), f"{where}.alt")
    elif kind == "app.bsky.embed.external":
        where = f"{path}.external"
        external = _object(_required(value, "external", path), where)
        _string(_required(external, "uri", where), f"{where}.uri", fmt="uri")
        _string(_required(external, "title", where), f"{where}.title")
        _string(_required(external, "description", where), f"{where}.description")
        if "thumb" in external:
            _blob(external["thumb"], f"{where}.thumb", refs)
    elif kind in NOT_VALIDATED_EMBEDS:
        raise XrpcError(400, "InvalidRequest", f"the emulator does not take {kind} embeds")


def validate_post(record: Any, path: str = "$.record") -> list[tuple[str, str, int]]:
    """Check ``record`` as the PDS does (its properties in the lexicon's order: text, facets, embed,
    langs, tags, createdAt); the blob refs it names, as (CID, mimeType, size). Invalid: 400
    ``InvalidRequest`` "Invalid app.bsky.feed.post record: <issue> at $.record.<path>"."""
    if not isinstance(record, dict):
        raise XrpcError(400, "InvalidRequest", f"Expected object value type (got {show(record)}) at {path}")
    if record.get("$type", POST) != POST:
        raise XrpcError(400, "InvalidRequest", f"Invalid $type: expected {POST}, got {record.get('$type')}")
    refs: list[tuple[str, str, int]] = []
    try:
        _string(_required(record, "text", path), f"{path}.text", max_bytes=MAX_TEXT_BYTES, max_graphemes=MAX_GRAPHEMES)
        if "facets" in record:
            _facets(record["facets"], f"{path}.facets")
        if "embed" in record:
            _embed(record["embed"], f"{path}.embed", refs)
        if "langs" in record:
            for number, lang in enumerate(_array(record["langs"], f"{path}.langs", 3)):
                _string(lang, f"{path}.langs[{number}]", fmt="language")
        if "tags" in record:
            for number, tag in enumerate(_array(record["tags"], f"{path}.tags", 8)):
                _string(tag, f"{path}.tags[{number}]", max_bytes=MAX_TAG_BYTES, max_graphemes=MAX_TAG_GRAPHEMES)
        _string(_required(record, "createdAt", path), f"{path}.createdAt", fmt="datetime")
    except _Issue as issue:
        raise XrpcError(400, "InvalidRequest", f"Invalid {POST} record: {issue.issue} at {issue.path}") from None
    return refs


def check_blobs(refs: Sequence[tuple[str, str, int]], blobs: dict[str, StoredBlob]) -> None:
    """What the PDS checks when a record names blobs (``verifyBlobAndMakePermanent``): each uploaded
    (400 ``BlobNotFound``), and, while no record named it yet, named with its own mimeType and size
    (400 ``InvalidMimeType``, ``InvalidSize``); then each is kept for good."""
    for cid, mime, size in refs:
        blob = blobs.get(cid)
        if blob is None:
            raise XrpcError(400, "BlobNotFound", f"Could not find blob: {cid}")
        if not blob.permanent and mime != blob.mime:
            raise XrpcError(400, "InvalidMimeType", "Referenced Mimetype does not match stored blob. "
                                                    f"Expected: {blob.mime}, Got: {mime}")
        if not blob.permanent and size != blob.size:
            raise XrpcError(400, "InvalidSize", f"Referenced Size does not match stored blob. "
                                                f"Expected: {blob.size}, Got: {size}")
    for cid, _, _ in refs:
        blobs[cid].permanent = True


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
        raise XrpcError(400, "InvalidRequest", f"Expected object value type (got {show(body)}) at $")
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
        return state.new_session(), headers
    if nsid == "com.atproto.server.refreshSession":
        return state.rotate_refresh(state.authenticate(auth, "refresh")), {}
    if nsid == "com.atproto.repo.getRecord":
        rkey = request.query_params.get("rkey", "")
        uri = f"at://{config.did}/{request.query_params.get('collection')}/{rkey}"
        stored = state.posts.get(rkey)
        if request.query_params.get("collection") != POST or stored is None:
            raise XrpcError(400, "RecordNotFound", f"Could not locate record: {uri}")
        return {"uri": stored.uri, "cid": stored.cid, "value": stored.record}, {}
    state.authenticate(auth, "access", decodes=nsid == "com.atproto.repo.uploadBlob")
    if nsid == "com.atproto.repo.uploadBlob":  # no image limit here: the lexicon's is checked on the post
        given = request.headers.get("content-type", "").split(";")[0].strip()
        if not given:
            raise XrpcError(400, "InvalidRequest", "Request encoding (Content-Type) required but not provided")
        if len(raw) > config.blob_upload_limit:
            raise XrpcError(413, "PayloadTooLarge", "request entity too large")
        mime = sniff_mime(raw) or given
        cid = cid_for(raw, 0x55)
        known = state.blobs.get(cid)
        state.blobs[cid] = StoredBlob(mime, len(raw), known is not None and known.permanent)
        return {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(raw)}}, {}
    if nsid == "com.atproto.repo.createRecord":
        body = _json_body(raw)
        headers = state.take_rate(nsid, config.record_rate_limit)
        if body.get("repo") not in (config.did, config.handle):
            raise XrpcError(400, "InvalidRequest", "Input/repo must be the session's own repository", headers)
        if body.get("collection") != POST:
            raise XrpcError(400, "InvalidRequest", f"the emulator stores only {POST} records", headers)
        rkey = body.get("rkey") or state.next_tid()
        if not isinstance(rkey, str) or not RECORD_KEY.match(rkey) or rkey in (".", ".."):
            raise XrpcError(400, "InvalidRequest", f"Invalid record key (got {show(rkey)}) at $.rkey", headers)
        if "record" not in body:
            raise XrpcError(400, "InvalidRequest", 'Missing required key "record" at $', headers)
        given = body["record"]
        record: dict[str, Any] = {"$type": POST, **given} if isinstance(given, dict) else {}
        try:
            refs = validate_post(given if not isinstance(given, dict) else record)
            if rkey in state.posts:  # what the reference PDS does (atproto#3718): nothing stored, a 500
                raise XrpcError(500, "InternalServerError", "Internal Server Error")
            check_blobs(refs, state.blobs)
        except XrpcError as exc:
            exc.headers.update(headers)
            raise
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
