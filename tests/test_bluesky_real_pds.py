"""relay's Bluesky publisher against Bluesky's reference PDS, for real (:mod:`tests.real_pds`).

The emulator (:mod:`relay.testing.bluesky_emulator`) stands in for the PDS in the rest of the
suite; here the same calls go to ``@atproto/pds`` itself (with its AppView, for
``getAuthorFeed``), so what the emulator claims is checked where it matters to relay: a repeated
record key (500 ``InternalServerError``, nothing stored: the emulator answers the same, checked
side by side below), getRecord, the session's errors and its refresh.

Skips, saying why, without Node, without ``tests/pds/node_modules`` (install:
``npm_config_nodedir=/usr npm ci --prefix tests/pds``), without PostgreSQL
(``RELAY_TEST_DATABASE_URL``) or without Redis.

Where the emulator answered otherwise than the real PDS, the emulator was changed; each case is
now sent to both by :func:`test_the_emulator_answers_as_the_real_pds`, which compares status, error
name and (where it is the same request) the whole answer: no token is 401 ``AuthMissing``; an
unknown token 400 ``InvalidToken`` (a 500 on ``uploadBlob`` when it is no JWT at all); a refresh
token already used still refreshes within the PDS's two-hour grace period, then is 400
``ExpiredToken`` "Token has been revoked"; ``uploadBlob`` takes a blob over 1,000,000 bytes and a
post naming it is 400 ``InvalidRequest`` "blob too big (maximum 1000000, got N)"; an unknown blob
is 400 ``BlobNotFound``; bytes that start like a PNG but are not one are a 500 at upload (the PDS
sniffs the type in the bytes, it does not decode the image: other bytes are kept); a facet
outside the text is stored; validation messages are the PDS's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
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
from relay.testing.bluesky_emulator import cid_for
from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer
from tests.images import png
from tests.real_pds import Account, RealPds, skip_reason

pytestmark = pytest.mark.slow

POST = "app.bsky.feed.post"
DEV_ENV_JWT_SECRET = b"jwt-secret"
"""The secret ``@atproto/dev-env`` gives its PDS (``JWT_SECRET`` in its const.js): with it a test can
write an access token that expired, instead of waiting two hours for one."""


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


# -- the emulator, side by side with the real PDS ----------------------------------------------------

BROKEN_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
"""A PNG signature followed by zeros: what several tests uploaded before; the PDS answers it with a 500."""
LINK = "app.bsky.richtext.facet#link"
SAME = "same"
"""The whole answer is the same on both (what differs is only a status and error name otherwise)."""


def _requests(http: httpx.Client, did: str, password_login: dict[str, str]) -> dict[str, tuple[httpx.Response, str]]:
    """The same requests, to one PDS; each answer with what must match (:data:`SAME`, or status and error)."""
    session = http.post("com.atproto.server.createSession", json=password_login).json()
    auth = {"Authorization": f"Bearer {session['accessJwt']}"}

    def upload(data: bytes, mime: str | None = "image/png", headers: dict[str, str] = auth) -> httpx.Response:
        return http.post("com.atproto.repo.uploadBlob", content=data,
                         headers={**headers, **({"Content-Type": mime} if mime else {})})

    def create(headers: dict[str, str] = auth, **record: Any) -> httpx.Response:
        return http.post("com.atproto.repo.createRecord", headers=headers, json={
            "repo": did, "collection": POST,
            "record": {"$type": POST, "text": "Bonjour le monde", "createdAt": "2026-01-15T09:30:00.000Z", **record}})

    def thumb(blob: Any) -> dict[str, Any]:
        return {"$type": "app.bsky.embed.external",
                "external": {"uri": "https://blog.example.fr/a", "title": "T", "description": "D", "thumb": blob}}

    def facet(start: int, end: int, *features: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"index": {"byteStart": start, "byteEnd": end}, "features": list(features)}]

    big = upload(png(5, 4) + bytes(1_000_001))
    fresh = upload(png(6, 4)).json()["blob"]
    unknown = {"$type": "blob", "ref": {"$link": cid_for(b"never uploaded", 0x55)}, "mimeType": "image/png", "size": 9}
    answers: dict[str, tuple[httpx.Response, str]] = {
        # tokens
        "no token": (create(headers={}), SAME),
        "unknown token": (create(headers={"Authorization": "Bearer not-a-token"}), SAME),
        "no JWT on uploadBlob": (upload(png(), headers={"Authorization": "Bearer not-a-token"}), SAME),
        "refresh token as access": (create(headers={"Authorization": f"Bearer {session['refreshJwt']}"}), SAME),
        "Basic": (create(headers={"Authorization": "Basic abc"}), SAME),
        "bare Bearer": (create(headers={"Authorization": "Bearer"}), SAME),
        # uploads
        "a real PNG": (upload(png()), SAME),
        "PNG signature and zeros": (upload(BROKEN_PNG), SAME),
        "PNG signature only": (upload(b"\x89PNG\r\n\x1a\n"), SAME),
        "text said to be a PNG": (upload(b"not an image at all", "image/png"), SAME),
        "PNG said to be a JPEG": (upload(png(3, 3), "image/jpeg"), SAME),
        "no Content-Type": (upload(png(), None), SAME),
        "over a million bytes": (big, SAME),
        # records naming blobs
        "post naming it": (create(embed=thumb(big.json()["blob"])), SAME),
        "unknown blob": (create(embed=thumb(unknown)), SAME),
        "blob named with another size": (create(embed=thumb({**fresh, "size": fresh["size"] + 1})), SAME),
        "not a blob": (create(embed=thumb({"foo": 1})), SAME),
        "text blob as thumbnail": (create(embed=thumb(upload(b"plain", "text/plain").json()["blob"])), SAME),
        # validation
        "301 graphemes": (create(text="é" * 301), SAME),
        "3,001 bytes": (create(text="👨‍👩‍👧‍👦" * 121), SAME),
        "no text": (create(text=None), "status"),
        "bad datetime": (create(createdAt="hier"), SAME),
        "negative index": (create(facets=facet(-1, 3)), SAME),
        "bad link": (create(facets=facet(0, 3, {"$type": LINK, "uri": "a.fr"})), SAME),
        "long tag": (create(facets=facet(0, 3, {"$type": "app.bsky.richtext.facet#tag", "tag": "a" * 65})), SAME),
        "feature without $type": (create(facets=facet(0, 3, {"uri": "https://a.fr"})), SAME),
        "no description": (create(embed={"$type": "app.bsky.embed.external",
                                         "external": {"uri": "https://a.fr", "title": "t"}}), SAME),
        "five images": (create(embed={"$type": "app.bsky.embed.images",
                                      "images": [{"image": fresh, "alt": ""}] * 5}), SAME),
        "four languages": (create(langs=["fr", "en", "de", "it"]), SAME),
        "bad language": (create(langs=["not a lang"]), SAME),
        # stored by the PDS (the app ignores what it cannot show)
        "facet outside the text": (create(facets=facet(10, 400, {"$type": LINK, "uri": "https://a.fr"})), "status"),
        "facet reversed": (create(facets=facet(5, 2)), "status"),
        "unknown feature": (create(facets=facet(0, 3, {"$type": "app.bsky.richtext.facet#bold"})), "status"),
        "no images": (create(embed={"$type": "app.bsky.embed.images", "images": []}), "status"),
        "unknown embed": (create(embed={"$type": "com.example.embed", "x": 1}), "status"),
    }
    first = http.post("com.atproto.server.refreshSession", headers={"Authorization": f"Bearer {session['refreshJwt']}"})
    again = http.post("com.atproto.server.refreshSession", headers={"Authorization": f"Bearer {session['refreshJwt']}"})
    answers["refresh"], answers["refresh token used again"] = (first, "status"), (again, "status")
    answers["the next refresh token"] = (http.post("com.atproto.server.refreshSession", headers={
        "Authorization": f"Bearer {first.json()['refreshJwt']}"}), "status")
    answers["access token to refresh"] = (http.post("com.atproto.server.refreshSession", headers=auth), SAME)
    return answers


def test_the_emulator_answers_as_the_real_pds(real_pds: RealPds, account: Account, app_password: str) -> None:
    with BlueskyEmulatorServer() as emulator:
        sides = {}
        for side, base, did, login in (
                ("real", real_pds.url, account.did, {"identifier": account.handle, "password": app_password}),
                ("emulator", emulator.base_url, emulator.state.config.did,
                 {"identifier": emulator.state.config.handle, "password": emulator.state.config.app_password})):
            with httpx.Client(base_url=f"{base}/xrpc/", timeout=30) as http:
                sides[side] = _requests(http, did, login)
    differences = []
    for case, (real, what) in sides["real"].items():
        emulated = sides["emulator"][case][0]
        if what == SAME and real.status_code != 200:
            said = (real.status_code, real.json()), (emulated.status_code, emulated.json())
        elif what == SAME:
            said = (real.status_code, real.json().get("blob")), (emulated.status_code, emulated.json().get("blob"))
        else:
            said = ((real.status_code, real.json().get("error")),
                    (emulated.status_code, emulated.json().get("error")))
        if said[0] != said[1]:
            differences.append(f"{case}: real {said[0]}, emulator {said[1]}")
    assert not differences, "\n".join(differences)
    # what the emulator now answers, as the real PDS does (pinned, so a change on either side shows)
    real = {case: (answer.status_code, answer.json().get("error")) for case, (answer, _) in sides["real"].items()}
    assert real["no token"] == (401, "AuthMissing") and real["unknown token"] == (400, "InvalidToken")
    assert real["refresh token used again"] == (200, None)
    assert real["over a million bytes"] == (200, None) and real["post naming it"] == (400, "InvalidRequest")
    assert "blob too big (maximum 1000000, got " in sides["real"]["post naming it"][0].json()["message"]
    assert real["unknown blob"] == (400, "BlobNotFound")
    assert real["PNG signature and zeros"] == (500, "InternalServerError")
    assert real["facet outside the text"] == (200, None)
    assert sides["real"]["301 graphemes"][0].json()["message"] == (
        "Invalid app.bsky.feed.post record: grapheme too big (maximum 300, got 301) at $.record.text")


def test_a_used_refresh_token_is_revoked_once_its_grace_has_passed(real_pds: RealPds, account: Account,
                                                                   app_password: str) -> None:
    """The end of the grace, on the real PDS: its expiry moved back in its database (two hours cannot be waited)."""
    import sqlite3

    login = real_pds.xrpc("POST", "com.atproto.server.createSession",
                          json={"identifier": account.handle, "password": app_password}).json()
    token = login["refreshJwt"]
    assert real_pds.xrpc("POST", "com.atproto.server.refreshSession", token=token).status_code == 200
    token_id = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["jti"]
    assert real_pds._tmp is not None
    moved = 0
    for path in real_pds._tmp.glob("*/account.sqlite"):
        with sqlite3.connect(path) as db:
            moved += db.execute("UPDATE refresh_token SET expiresAt = '2020-01-01T00:00:00.000Z' WHERE id = ?",
                                (token_id,)).rowcount
    assert moved == 1
    revoked = real_pds.xrpc("POST", "com.atproto.server.refreshSession", token=token)
    assert (revoked.status_code, revoked.json()) == (400, {"error": "ExpiredToken",
                                                           "message": "Token has been revoked"})
