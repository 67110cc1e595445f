"""Checking that a webhook really comes from the blog: pure functions over headers and raw bytes.

Two schemes are accepted:

* **Standard Webhooks** (what the relay-connector plugin sends): ``webhook-id``,
  ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
  ``"<id>.<timestamp>.<raw body>"``. The key is the base64 after ``whsec_``, or the secret's
  UTF-8 bytes when it has no such prefix. Several space-separated signatures may be present
  (the sender is rotating keys): one match with any configured secret is enough.
* **Body HMAC** (WP Webhooks, WooCommerce): ``X-WP-Webhook-Signature: <base64 HMAC-SHA256>``
  of the raw body, keyed with the secret string exactly as typed in that plugin. It carries
  no timestamp, so the caller dedupes on a hash of the body instead of an id.

The signature is checked before the timestamp's age, so only a sender that knows the secret
learns that its clock is off. Every comparison goes through :func:`hmac.compare_digest`.
Nothing here logs, and no message repeats a secret or a signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

TOLERANCE_SECONDS = 5 * 60
"""How far ``webhook-timestamp`` may be from relay's clock, either way."""

SECRET_PREFIX = "whsec_"
Scheme = Literal["standard", "body-hmac"]
STANDARD_SCHEME: Scheme = "standard"
BODY_HMAC_SCHEME: Scheme = "body-hmac"
BODY_HMAC_HEADER = "x-wp-webhook-signature"
_STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_MISMATCH = "the signature does not match: check that WordPress and relay share the same secret"


class SignatureError(Exception):
    """The request is unsigned, forged or stale; the message says which, without secrets."""


class SignatureMismatch(SignatureError):
    """Signed, but with another secret: WordPress and relay do not share the same one."""


class StaleTimestamp(SignatureError):
    """Signed with the right secret, but ``webhook-timestamp`` is too far from relay's clock."""


class SecretFormatError(ValueError):
    """A configured secret starts with ``whsec_`` but what follows is not base64."""


@dataclass(frozen=True)
class VerifiedDelivery:
    """What a valid signature vouches for."""

    scheme: Scheme
    delivery_id: str
    """``webhook-id``, or ``sha256:<hex>`` of the body for the body-HMAC scheme."""
    timestamp: int | None


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_<base64>`` or any string)."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode("utf-8")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SecretFormatError(
            "the webhook secret starts with whsec_ but the rest is not base64; "
            "use whsec_ followed by base64 (e.g. the output of `openssl rand -base64 32`), "
            "or any long string without the whsec_ prefix"
        ) from None


def check_secrets(secrets: Sequence[str]) -> None:
    """Raise :class:`SecretFormatError` when one of the secrets cannot be used as a key."""
    for secret in secrets:
        signing_key(secret)


def standard_signature(secret: str, delivery_id: str, timestamp: int | str, body: bytes) -> str:
    """The ``v1,<base64>`` signature a Standard Webhooks sender puts in ``webhook-signature``."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def body_signature(secret: str, body: bytes) -> str:
    """The ``X-WP-Webhook-Signature`` value: base64 HMAC-SHA256 of the body, keyed with the raw secret."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def body_delivery_id(body: bytes) -> str:
    """The replay key of a delivery that has no ``webhook-id``."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> VerifiedDelivery:
    """Check a delivery's signature against every configured secret.

    ``headers`` must have lower-case names. Raises :class:`SignatureError` (unsigned,
    forged, malformed or stale) or :class:`SecretFormatError` (a configured secret is
    unusable, which is relay's problem, not the sender's).
    """
    if not secrets:
        raise SignatureError("relay has no webhook secret configured")
    if any(name in headers for name in _STANDARD_HEADERS):
        return _verify_standard(headers, body, secrets, now=now, tolerance=tolerance)
    if BODY_HMAC_HEADER in headers:
        return _verify_body_hmac(headers[BODY_HMAC_HEADER], body, secrets)
    raise SignatureError(
        "the request is not signed: send webhook-id, webhook-timestamp and webhook-signature "
        "(Standard Webhooks), or X-WP-Webhook-Signature"
    )


def _verify_standard(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, now: float, tolerance: int
) -> VerifiedDelivery:
    missing = [name for name in _STANDARD_HEADERS if not headers.get(name)]
    if missing:
        raise SignatureError(f"the request lacks the {', '.join(missing)} header(s) of a signed webhook")
    delivery_id = headers["webhook-id"].strip()
    raw_timestamp = headers["webhook-timestamp"].strip()
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit()):
        raise SignatureError("webhook-timestamp must be the send time in Unix seconds (digits only)")
    offered = _v1_signatures(headers["webhook-signature"])
    if not offered:
        raise SignatureError("webhook-signature holds no v1 signature (expected \"v1,<base64>\")")
    keys = [signing_key(secret) for secret in secrets]
    signed = f"{delivery_id}.{raw_timestamp}.".encode() + body
    expected = [hmac.new(key, signed, hashlib.sha256).digest() for key in keys]
    if not _any_match(offered, expected):
        raise SignatureMismatch(_MISMATCH)
    timestamp = int(raw_timestamp)
    skew = timestamp - now
    if abs(skew) > tolerance:
        direction = "behind" if skew < 0 else "ahead of"
        raise StaleTimestamp(
            f"webhook-timestamp is {abs(skew):.0f} s {direction} relay's clock (more than {tolerance} s): "
            "a replayed request, or a server clock that needs NTP"
        )
    return VerifiedDelivery(STANDARD_SCHEME, delivery_id, timestamp)


def _verify_body_hmac(header: str, body: bytes, secrets: Sequence[str]) -> VerifiedDelivery:
    offered = _decode_base64(header.strip())
    if offered is None:
        raise SignatureError("X-WP-Webhook-Signature is not base64")
    expected = [hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest() for secret in secrets]
    if not _any_match([offered], expected):
        raise SignatureMismatch(_MISMATCH)
    return VerifiedDelivery(BODY_HMAC_SCHEME, body_delivery_id(body), None)


def _v1_signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a ``webhook-signature`` header; other versions are skipped."""
    found = []
    for item in header.split():
        version, _, value = item.partition(",")
        if version != "v1":
            continue
        decoded = _decode_base64(value)
        if decoded is not None:
            found.append(decoded)
    return found


def _decode_base64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _any_match(offered: Sequence[bytes], expected: Sequence[bytes]) -> bool:
    """Compare every pair in constant time, without stopping at the first match."""
    matched = False
    for candidate in offered:
        for digest in expected:
            matched |= hmac.compare_digest(candidate, digest)
    return matched
