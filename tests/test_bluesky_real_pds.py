"""relay's Bluesky publisher against Bluesky's reference PDS, for real (:mod:`tests.real_pds`).

The emulator (:mod:`relay.testing.bluesky_emulator`) stands in for the PDS in the rest of the
suite; here the same calls go to ``@atproto/pds`` itself (with its AppView, for
``getAuthorFeed``), so what the emulator claims is checked where it matters to relay: a repeated
record key (500 ``InternalServerError``, nothing stored: the emulator answers the same, checked
side by side below), getRecord, the session's errors and its refresh.

Skips, saying why, without Node, without ``tests/pds/node_modules`` (install:
``npm_config_nodedir=/usr npm ci --prefix tests/pds``), without PostgreSQL
(``RELAY_TEST_DATABASE_URL``) or without Redis.

Where the real PDS answers otherwise than the emulator (relay reads both the same way; the
emulator is left as its own tests pin it): no token is 401 ``AuthMissing`` (emulator:
``AuthenticationRequired``); an unknown token 400 ``InvalidToken`` (emulator: 401); a refresh
token already used still refreshes within the PDS's grace period (emulator: 401); a blob over
1,000,000 bytes is accepted by ``uploadBlob`` (its limit is the PDS's upload limit) and refused
when a post names it, 400 ``InvalidRequest`` "blob too big" (emulator: 400 ``BlobTooLarge`` at
upload); an unknown blob is 400 ``BlobNotFound`` (emulator: ``InvalidRequest``); bytes that
start like a PNG but are not one are a 500 at upload (the emulator stores them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from relay.adapters.bluesky import BlueskyCredentials, BlueskyPublisher, error_for_response
from relay.core.bluesky_text import compose_bluesky_post, short_link
from relay.core.bluesky_tid import is_tid, record_key_for_delivery
from relay.core.models import Post
from relay.errors import AccountBlocked, PostRefused, TransientPublishError
from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer
from tests.real_pds import Account, RealPds, skip_reason

pytestmark = pytest.mark.slow

POST = "app.bsky.feed.post"
DEV_ENV_JWT_SECRET = b"jwt-secret"
"""The secret ``@atproto/dev-env`` gives its PDS (``JWT_SECRET`` in its const.js): with it a test can
write an access token that expired, instead of waiting two hours for one."""


def png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG (the PDS reads the image's size; a PNG signature followed by zeros is a 500)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([0, 133, 255]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def real_pds() -> Iterator[RealPds]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    with RealPds() as pds:
        print(f"the real PDS ({pds.url}) answered in {time.monotonic() - started:.1f}s")
        yield pds


@pytest.fixture(scope="module")
def account(real_pds: RealPds) -> Account:
    return real_pds.create_account("relay-blog.test")


@pytest.fixture(scope="module")
def app_password(real_pds: RealPds, account: Account) -> str:
    return real_pds.create_app_password(account, "relay")


@pytest.fixture
def bluesky(real_pds: RealPds, account: Account, app_password: str) -> Iterator[BlueskyPublisher]:
    publisher = BlueskyPublisher(BlueskyCredentials(account.handle, app_password), service_url=real_pds.url,
                                 timeout=httpx.Timeout(30.0, connect=5.0))
    yield publisher
    publisher.close()


def get_record(pds: RealPds, account: Account, rkey: str) -> httpx.Response:
    return pds.xrpc("GET", "com.atproto.repo.getRecord", params={"repo": account.did, "collection": POST, "rkey": rkey})


def records_with_key(pds: RealPds, account: Account, rkey: str) -> list[dict[str, Any]]:
    answer = pds.xrpc("GET", "com.atproto.repo.listRecords", params={"repo": account.did, "collection": POST,
                                                                       "limit": 100})
    assert answer.status_code == 200, answer.text
    return [r for r in answer.json()["records"] if r["uri"].endswith(f"/{rkey}")]


def composed_post() -> Any:
    return compose_bluesky_post(
        Post(url="https://blog.example.fr/2026/01/economies-energie-hiver",
             title="Économies d’énergie : les gestes qui comptent 🇫🇷",
             summary_html="<p>Dix gestes simples pour passer l’hiver au chaud, sans se ruiner.</p>",
             categories=("Maison", "Énergie")),
        today=date(2026, 1, 15))


def test_a_composed_post_with_facets_card_and_thumbnail_is_stored_as_sent(
        real_pds: RealPds, account: Account, bluesky: BlueskyPublisher) -> None:
    composed = composed_post()
    image = png()
    media = bluesky.upload_image(image, "image/png", "Une maison l’hiver")
    assert bluesky.did == account.did and bluesky.handle == account.handle  # logged in with the app password
    key = record_key_for_delivery(7, datetime.now(UTC))
    published = bluesky.publish(composed.text, [media], record_key=key, facets=composed.facets,
                                card=composed.card, langs=("fr",))
    assert published.tweet_id == f"at://{account.did}/{POST}/{key}" and is_tid(key)
    assert published.url == f"https://bsky.app/profile/{account.handle}/post/{key}"

    answer = get_record(real_pds, account, key)
    assert answer.status_code == 200, answer.text
    stored = answer.json()["value"]
    assert stored["text"] == composed.text and "Économies d’énergie" in stored["text"] and "🇫🇷" in stored["text"]
    assert stored["facets"] == composed.facets_record() and stored["langs"] == ["fr"]
    link = next(f for f in composed.facets if f.kind == "link")
    assert composed.text.encode()[link.byte_start:link.byte_end].decode() == short_link(composed.link)
    external = stored["embed"]["external"]
    assert (external["uri"], external["title"]) == (composed.link, composed.card.title)
    assert external["thumb"]["mimeType"] == "image/png" and external["thumb"]["size"] == len(image)
    assert external["thumb"]["ref"]["$link"] == json.loads(media)["blob"]["ref"]["$link"]


def test_a_repeated_record_key_is_a_500_on_the_real_pds_and_the_emulator_and_makes_one_post(
        real_pds: RealPds, account: Account, app_password: str, bluesky: BlueskyPublisher) -> None:
    """What the emulator claims (atproto#3718): the second create with a key is a bare 500, nothing stored."""
    key = record_key_for_delivery(8, datetime.now(UTC))
    record = {"$type": POST, "text": "Bonjour, deux fois", "createdAt": "2026-01-15T09:30:00.000Z"}
    answers = []
    with BlueskyEmulatorServer() as emulator:
        for base, identifier, password in ((real_pds.url, account.handle, app_password),
                                           (emulator.base_url, emulator.state.config.handle,
                                            emulator.state.config.app_password)):
            with httpx.Client(base_url=f"{base}/xrpc/", timeout=30) as http:
                session = http.post("com.atproto.server.createSession",
                                    json={"identifier": identifier, "password": password}).json()
                request = {"repo": session["did"], "collection": POST, "rkey": key, "record": record}
                auth = {"Authorization": f"Bearer {session['accessJwt']}"}
                first = http.post("com.atproto.repo.createRecord", json=request, headers=auth)
                assert first.status_code == 200, first.text
                again = http.post("com.atproto.repo.createRecord", json=request, headers=auth)
                answers.append((again.status_code, again.json()))
    real, emulated = answers
    assert real == (500, {"error": "InternalServerError", "message": "Internal Server Error"})
    assert emulated == real
    assert len(records_with_key(real_pds, account, key)) == 1

    # relay's publisher, with its own key twice: one post, and the retry answers with it.
    key = record_key_for_delivery(9, datetime.now(UTC))
    first_post = bluesky.publish("Bonjour https://blog.example.fr/a", record_key=key)
    second_post = bluesky.publish("Bonjour https://blog.example.fr/a", record_key=key)
    assert first_post.tweet_id == second_post.tweet_id == f"at://{account.did}/{POST}/{key}"
    assert len(records_with_key(real_pds, account, key)) == 1
    after = get_record(real_pds, account, key)
    assert after.status_code == 200 and after.json()["value"]["text"] == "Bonjour https://blog.example.fr/a"


def test_recent_posts_finds_the_post_by_its_link_through_the_appview(
        real_pds: RealPds, account: Account, bluesky: BlueskyPublisher) -> None:
    composed = composed_post()
    key = record_key_for_delivery(10, datetime.now(UTC))
    published = bluesky.publish(composed.text, record_key=key, facets=composed.facets, card=composed.card)
    real_pds.sync()
    recent = bluesky.recent_posts(max_results=10)
    found = [post for post in recent if composed.link in post.links]
    assert published.tweet_id in [post.id for post in found]
    mine = next(post for post in found if post.id == published.tweet_id)
    assert mine.text == composed.text and mine.record_key == key and mine.created_at is not None
    assert all(post.id.startswith(f"at://{account.did}/") for post in recent)


def _expired(token: str) -> str:
    """``token`` as it would be two hours later: the same claims, iat and exp three hours back."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["iat"] -= 3 * 3600
    claims["exp"] = claims["iat"] + 2 * 3600
    signing = f"{header}.{b64(json.dumps(claims, separators=(',', ':')).encode())}"
    return f"{signing}.{b64(hmac.new(DEV_ENV_JWT_SECRET, signing.encode(), hashlib.sha256).digest())}"


def test_an_expired_session_is_refreshed_and_the_post_made(real_pds: RealPds, account: Account,
                                                           bluesky: BlueskyPublisher) -> None:
    bluesky.publish("Avant l’expiration")
    assert bluesky._access is not None and bluesky._refresh is not None
    expired, old_refresh = _expired(bluesky._access), bluesky._refresh
    said = real_pds.xrpc("POST", "com.atproto.repo.uploadBlob", token=expired, content=png(),
                         headers={"Content-Type": "image/png"})
    assert (said.status_code, said.json()) == (400, {"error": "ExpiredToken", "message": "Token has expired"})
    bluesky._access = expired
    key = record_key_for_delivery(11, datetime.now(UTC))
    published = bluesky.publish("Après l’expiration", record_key=key)
    assert published.tweet_id.endswith(f"/{key}") and bluesky._access != expired
    assert bluesky._refresh != old_refresh  # refreshSession rotated the pair
    assert get_record(real_pds, account, key).status_code == 200


def test_a_wrong_app_password_is_account_blocked(real_pds: RealPds, account: Account) -> None:
    secret = "wxyz-wxyz-wxyz-wxyz"
    publisher = BlueskyPublisher(BlueskyCredentials(account.handle, secret), service_url=real_pds.url)
    try:
        refused = "401 AuthenticationRequired: Invalid identifier or password"
        with pytest.raises(AccountBlocked, match=refused) as raised:
            publisher.publish("Bonjour")
        assert secret not in str(raised.value)
    finally:
        publisher.close()


def test_the_real_error_answers_map_to_relays_errors(real_pds: RealPds, account: Account, app_password: str) -> None:
    """Each answer relay reads, as the real PDS gives it, and what relay makes of it."""
    session = real_pds.xrpc("POST", "com.atproto.server.createSession",
                            json={"identifier": account.did, "password": app_password})
    assert session.status_code == 200  # the DID works as identifier too
    token = session.json()["accessJwt"]
    record: dict[str, Any] = {"$type": POST, "text": "x", "createdAt": "2026-01-15T09:30:00.000Z"}
    post: dict[str, Any] = {"repo": account.did, "collection": POST, "record": record}
    cases: list[tuple[httpx.Response, int, str, type[Exception]]] = [
        (get_record(real_pds, account, record_key_for_delivery(12, datetime.now(UTC))), 400, "RecordNotFound",
         PostRefused),
        (real_pds.xrpc("POST", "com.atproto.repo.createRecord", json=post), 401, "AuthMissing", AccountBlocked),
        (real_pds.xrpc("POST", "com.atproto.repo.createRecord", token="not-a-token", json=post), 400, "InvalidToken",
         AccountBlocked),
        (real_pds.xrpc("POST", "com.atproto.repo.createRecord", token=token, json={**post, "rkey": "not a key"}),
         400, "InvalidRequest", PostRefused),
        (real_pds.xrpc("POST", "com.atproto.repo.createRecord", token=token,
                       json={**post, "record": {**record, "text": "é" * 301}}), 400, "InvalidRequest",
         PostRefused),
        (real_pds.xrpc("POST", "com.atproto.repo.uploadBlob", token=token, content=b"\x89PNG\r\n\x1a\n" + bytes(2000),
                       headers={"Content-Type": "image/png"}), 500, "InternalServerError", TransientPublishError),
    ]
    for answer, status, name, relay_error in cases:
        assert (answer.status_code, answer.json()["error"]) == (status, name), answer.text
        assert isinstance(error_for_response(answer, "test"), relay_error), answer.text
