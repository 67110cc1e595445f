"""Webhook signatures: the Standard Webhooks reference vector, rotation, staleness, forgeries."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from relay.webhooks.signatures import (
    BODY_HMAC_SCHEME,
    STANDARD_SCHEME,
    SecretFormatError,
    SignatureError,
    body_delivery_id,
    body_signature,
    signing_key,
    standard_signature,
    verify,
)

# The published Standard Webhooks test vector (standardwebhooks.com, and Svix's libraries).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = "whsec_" + base64.b64encode(b"a 32-byte key for relay's tests!").decode()
OLD_SECRET = "a plain old secret without prefix"
NOW = 1_800_000_000
BODY = b'{"event": "publish", "post": {"id": 12}}'


def standard_headers(secret: str = SECRET, *, delivery_id: str = "wp_blog_12_1_publish", timestamp: int = NOW,
                     body: bytes = BODY) -> dict[str, str]:
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, delivery_id, timestamp, body),
    }


def test_signing_reproduces_the_standard_webhooks_reference_vector() -> None:
    assert standard_signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_the_reference_vector_verifies() -> None:
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP),
               "webhook-signature": VECTOR_SIGNATURE}
    delivery = verify(headers, VECTOR_BODY, [VECTOR_SECRET], now=VECTOR_TIMESTAMP + 10)
    assert (delivery.scheme, delivery.delivery_id, delivery.timestamp) == (STANDARD_SCHEME, VECTOR_ID,
                                                                          VECTOR_TIMESTAMP)


def test_key_is_base64_after_whsec_else_the_utf8_string() -> None:
    assert signing_key("whsec_" + base64.b64encode(b"\x00\xffkey").decode()) == b"\x00\xffkey"
    assert signing_key("plain secret é") == "plain secret é".encode()
    assert signing_key("whsec_" + base64.b64encode(b"ab").decode().rstrip("=")) == b"ab"  # padding optional
    with pytest.raises(SecretFormatError, match="not base64"):
        signing_key("whsec_not*base64!")


def test_a_raw_string_secret_signs_with_its_bytes() -> None:
    headers = standard_headers(OLD_SECRET)
    expected = base64.b64encode(
        hmac.new(OLD_SECRET.encode(), f"wp_blog_12_1_publish.{NOW}.".encode() + BODY, hashlib.sha256).digest()
    ).decode()
    assert headers["webhook-signature"] == "v1," + expected
    assert verify(headers, BODY, [OLD_SECRET], now=NOW).delivery_id == "wp_blog_12_1_publish"


def test_any_configured_secret_may_match_any_offered_signature() -> None:
    new_only = standard_headers(SECRET)
    old_only = standard_headers(OLD_SECRET)
    assert verify(new_only, BODY, [SECRET, OLD_SECRET], now=NOW)
    assert verify(old_only, BODY, [SECRET, OLD_SECRET], now=NOW)
    # a sender mid-rotation sends both; an unknown version and garbage are skipped
    both = dict(new_only, **{"webhook-signature": "v2,abc v1,@@@ " + old_only["webhook-signature"] + " "
                             + new_only["webhook-signature"]})
    assert verify(both, BODY, [OLD_SECRET], now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify(old_only, BODY, [SECRET], now=NOW)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (dict(h, **{"webhook-id": "another-id"}), b),
        lambda h, b: (dict(h, **{"webhook-timestamp": str(NOW + 1)}), b),
        lambda h, b: (h, b + b" "),
        lambda h, b: (h, b.replace(b"12", b"13")),
        lambda h, b: (dict(h, **{"webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()}), b),
    ],
    ids=["id", "timestamp", "trailing-space", "body", "random-signature"],
)
def test_any_change_breaks_the_signature(tamper) -> None:
    headers, body = tamper(standard_headers(), BODY)
    with pytest.raises(SignatureError, match="does not match"):
        verify(headers, body, [SECRET], now=NOW)


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_a_timestamp_more_than_five_minutes_away_is_refused(skew: int) -> None:
    headers = standard_headers(timestamp=NOW + skew)
    with pytest.raises(SignatureError, match=r"webhook-timestamp is .* relay's clock"):
        verify(headers, BODY, [SECRET], now=NOW)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_a_timestamp_within_five_minutes_is_accepted(skew: int) -> None:
    assert verify(standard_headers(timestamp=NOW + skew), BODY, [SECRET], now=NOW)


def test_a_stale_forgery_is_told_it_does_not_match_not_that_it_is_stale() -> None:
    headers = standard_headers("wrong secret", timestamp=NOW - 3600)
    with pytest.raises(SignatureError, match="does not match"):
        verify(headers, BODY, [SECRET], now=NOW)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "not signed"),
        ({"webhook-id": "x", "webhook-timestamp": str(NOW)}, "lacks the webhook-signature"),
        ({"webhook-signature": "v1,AAAA"}, "lacks the webhook-id, webhook-timestamp"),
        ({"webhook-id": "x", "webhook-timestamp": "1.5e9", "webhook-signature": "v1,AAAA"}, "Unix seconds"),
        ({"webhook-id": "x", "webhook-timestamp": str(NOW), "webhook-signature": "v1a,AAAA"}, "no v1 signature"),
        ({"x-wp-webhook-signature": "***"}, "not base64"),
    ],
)
def test_malformed_or_missing_headers_are_refused(headers: dict[str, str], message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        verify(headers, BODY, [SECRET], now=NOW)


def test_no_secret_means_nothing_verifies() -> None:
    with pytest.raises(SignatureError):
        verify(standard_headers(), BODY, [], now=NOW)


def test_wp_webhooks_style_body_hmac_uses_the_raw_secret() -> None:
    secret = "typed-in-wp-webhooks-settings"
    expected = base64.b64encode(hmac.new(secret.encode(), BODY, hashlib.sha256).digest()).decode()
    assert body_signature(secret, BODY) == expected
    delivery = verify({"x-wp-webhook-signature": expected}, BODY, [SECRET, secret], now=NOW)
    assert delivery.scheme == BODY_HMAC_SCHEME
    assert delivery.timestamp is None
    assert delivery.delivery_id == body_delivery_id(BODY) == "sha256:" + hashlib.sha256(BODY).hexdigest()
    with pytest.raises(SignatureError, match="does not match"):
        verify({"x-wp-webhook-signature": expected}, BODY + b"\n", [secret], now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify({"x-wp-webhook-signature": expected}, BODY, [SECRET], now=NOW)


def test_standard_headers_win_over_the_body_hmac_header() -> None:
    """A forged Standard signature is not rescued by a valid body HMAC sent beside it."""
    headers = dict(standard_headers("wrong"), **{"x-wp-webhook-signature": body_signature(SECRET, BODY)})
    with pytest.raises(SignatureError, match="does not match"):
        verify(headers, BODY, [SECRET], now=NOW)


def test_messages_never_carry_the_secret_or_the_signature() -> None:
    headers = standard_headers("wrong")
    with pytest.raises(SignatureError) as caught:
        verify(headers, BODY, [SECRET, OLD_SECRET], now=NOW)
    message = str(caught.value)
    for secret_part in (SECRET, SECRET.removeprefix("whsec_"), OLD_SECRET, headers["webhook-signature"][3:]):
        assert secret_part not in message
