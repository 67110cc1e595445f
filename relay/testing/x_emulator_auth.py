"""Who is calling the emulator: OAuth 1.0a user context, an app-only Bearer token, or nobody.

The HMAC-SHA1 check is written from RFC 5849 §3.4 rather than borrowed from oauthlib, the library
the client signs with, so a signing bug on the client side cannot be mirrored by the checker. It
checks the signature over the URL *this server received* (scheme, Host header, path, query), which
is what X does: a client that signs one URL and sends the request to another fails here as it
would fail there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

REQUIRED_OAUTH_PARAMS = frozenset(
    {
        "oauth_consumer_key",
        "oauth_token",
        "oauth_signature",
        "oauth_nonce",
        "oauth_timestamp",
        "oauth_signature_method",
    }
)
_HEADER_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*"([^"]*)"\s*(?:,|$)')
TIMESTAMP_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class OAuth1Keys:
    """The four secrets the emulator checks signatures with, when it is told them."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str


@dataclass(frozen=True)
class Caller:
    """The authenticated party of one request; ``kind`` is ``"user"`` or ``"app"``."""

    kind: str
    principal: str

    @property
    def is_user(self) -> bool:
        return self.kind == "user"


class AuthFailure(Exception):
    """The request carries no usable credentials: the emulator answers 401."""


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request that an OAuth 1.0a signature covers."""

    method: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: str
    form_body: bytes | None
    """The body, only when it is ``application/x-www-form-urlencoded`` (RFC 5849 §3.4.1.3.1)."""


def percent_encode(value: str) -> str:
    """RFC 3986 encoding with only unreserved characters left bare, as §3.6 requires."""
    return quote(value, safe="-._~")


def parse_oauth_header(header: str) -> dict[str, str]:
    """The ``oauth_*`` parameters of an ``Authorization: OAuth ...`` header, percent-decoded."""
    if not header[:6].lower() == "oauth ":
        raise AuthFailure("not an OAuth header")
    params = {name: unquote(value) for name, value in _HEADER_PARAM.findall(header[6:])}
    missing = REQUIRED_OAUTH_PARAMS - params.keys()
    if missing:
        raise AuthFailure(f"OAuth header lacks {', '.join(sorted(missing))}")
    if params["oauth_signature_method"] != "HMAC-SHA1":
        raise AuthFailure("only HMAC-SHA1 is supported")
    return params


def signature_base_string(request: SignedRequest, oauth_params: dict[str, str]) -> str:
    """The text HMAC-SHA1 is computed over (RFC 5849 §3.4.1)."""
    pairs = [(k, v) for k, v in oauth_params.items() if k not in ("oauth_signature", "realm")]
    pairs += parse_qsl(request.query, keep_blank_values=True)
    if request.form_body:
        pairs += parse_qsl(request.form_body.decode("utf-8"), keep_blank_values=True)
    normalized = "&".join(f"{k}={v}" for k, v in sorted((percent_encode(k), percent_encode(v)) for k, v in pairs))
    scheme = request.scheme.lower()
    default_port = {"http": 80, "https": 443}.get(scheme)
    netloc = request.host.lower()
    if request.port is not None and request.port != default_port:
        netloc = f"{netloc}:{request.port}"
    base_uri = f"{scheme}://{netloc}{request.path}"
    return "&".join((request.method.upper(), percent_encode(base_uri), percent_encode(normalized)))


def hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_oauth1(request: SignedRequest, header: str, keys: OAuth1Keys | None, *, now: float) -> dict[str, str]:
    """Check an OAuth 1.0a header; return its parameters or raise :class:`AuthFailure`.

    Without ``keys`` any well-formed header passes (the emulator then trusts every caller), which
    is what a test that does not care about credentials wants.
    """
    params = parse_oauth_header(header)
    if keys is None:
        return params
    if params["oauth_consumer_key"] != keys.consumer_key or params["oauth_token"] != keys.access_token:
        raise AuthFailure("unknown consumer key or access token")
    try:
        timestamp = int(params["oauth_timestamp"])
    except ValueError as exc:
        raise AuthFailure("oauth_timestamp is not a number") from exc
    if abs(now - timestamp) > TIMESTAMP_TOLERANCE_SECONDS:
        raise AuthFailure("oauth_timestamp is too far from the server clock")
    expected = hmac_sha1_signature(
        signature_base_string(request, params), keys.consumer_secret, keys.access_token_secret
    )
    if not hmac.compare_digest(expected, params["oauth_signature"]):
        raise AuthFailure("signature does not match")
    return params
