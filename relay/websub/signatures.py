"""Checking ``X-Hub-Signature`` on content a WebSub hub pushed (W3C WebSub §8).

A hub signs the raw body with the ``hub.secret`` relay gave when subscribing:
``X-Hub-Signature: <method>=<hex HMAC of the body>``, method one of sha1, sha256, sha384,
sha512 (sha1 is what older hubs send, so it is still accepted: HMAC-SHA1 has no known
forgery attack). Only a valid signature proves the content came from the hub relay
subscribed with; the callback URL is public and anyone can POST to it.

Pure: no logging, no I/O, and no message repeats the secret or the expected signature.
The comparison is :func:`hmac.compare_digest`, so timing reveals nothing about how much
of a forged signature was right.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

SIGNATURE_HEADER = "x-hub-signature"
ALGORITHMS: dict[str, Callable[..., hashlib._Hash]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
"""The methods WebSub allows, by their name in the header."""


class HubSignatureError(Exception):
    """The pushed body is unsigned or its signature does not match; the message says which."""


def hub_signature(secret: str, body: bytes, algorithm: str = "sha256") -> str:
    """The header value a hub would send for ``body`` (used by relay's own tests and tools)."""
    digest = hmac.new(secret.encode("utf-8"), body, ALGORITHMS[algorithm]).hexdigest()
    return f"{algorithm}={digest}"


def verify_hub_signature(header: str | None, body: bytes, secret: str) -> str:
    """Raise :class:`HubSignatureError` unless ``header`` signs ``body`` with ``secret``.

    Returns the method that was used (``"sha256"`` ...), for the log.
    """
    if not header or not header.strip():
        raise HubSignatureError("the push carries no X-Hub-Signature, but relay's subscription has a secret")
    method, sep, given = header.strip().partition("=")
    method = method.strip().lower()
    if not sep or method not in ALGORITHMS:
        raise HubSignatureError(
            f"X-Hub-Signature must look like sha256=<hex>; method {method[:16]!r} is not one of "
            + ", ".join(ALGORITHMS)
        )
    given = given.strip().lower()
    if not given.isascii():
        raise HubSignatureError("the X-Hub-Signature value is not hexadecimal")
    expected = hmac.new(secret.encode("utf-8"), body, ALGORITHMS[method]).hexdigest()
    if not hmac.compare_digest(given.encode("ascii"), expected.encode("ascii")):
        raise HubSignatureError(
            f"the {method} signature does not match the body (forged, or signed with another secret)"
        )
    return method
