"""The Bluesky PDS emulator against the reference PDS's answers, over real HTTP.

The answers pinned here were read from ``@atproto/pds`` 0.4.217 itself (``tests/test_bluesky_real_pds.py``
sends the same requests to both). The clock is injected: tokens expire, and a used refresh token's grace
period ends, when the test moves it, never with the date.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from relay.testing.bluesky_emulator import EmulatorConfig, cid_for, sniff_mime
from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer
from tests.images import PNG, png

START = 1_800_000_000.0
CONFIG = EmulatorConfig()


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pds(clock: FakeClock) -> Iterator[BlueskyEmulatorServer]:
    with BlueskyEmulatorServer(clock=clock, record_rate_limit=5) as server:
        yield server


@pytest.fixture
def http(pds: BlueskyEmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pds.base_url + "/xrpc/", timeout=5) as client:
        yield client


def login(http: httpx.Client) -> dict[str, Any]:
    answer = http.post("com.atproto.server.createSession",
                       json={"identifier": CONFIG.handle, "password": CONFIG.app_password})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def create(http: httpx.Client, token: str, text: str = "Bonjour", **extra: Any) -> httpx.Response:
    record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-15T09:30:00.000Z",
              **extra.pop("record", {})}
    return http.post("com.atproto.repo.createRecord", headers=bearer(token),
                     json={"repo": CONFIG.did, "collection": "app.bsky.feed.post", "record": record, **extra})


def test_create_session_answers_tokens_did_and_handle(http: httpx.Client) -> None:
    body = login(http)
    assert body["did"] == CONFIG.did and body["handle"] == CONFIG.handle
    assert body["accessJwt"] != body["refreshJwt"]
    by_did = http.post("com.atproto.server.createSession",
                       json={"identifier": CONFIG.did, "password": CONFIG.app_password})
    assert by_did.status_code == 200


def test_a_wrong_app_password_is_401_authentication_required(http: httpx.Client) -> None:
    answer = http.post("com.atproto.server.createSession", json={"identifier": CONFIG.handle, "password": "nope"})
    assert answer.status_code == 401
    assert answer.json() == {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}


def test_tokens_missing_unknown_of_the_wrong_kind_and_expired(http: httpx.Client, clock: FakeClock) -> None:
    missing = create(http, "")
    assert (missing.status_code, missing.json()) == (401, {"error": "AuthMissing",
                                                           "message": "Authentication Required"})
    unknown = create(http, "made-up")
    assert (unknown.status_code, unknown.json()) == (400, {"error": "InvalidToken",
                                                           "message": "Token could not be verified"})
    session = login(http)
    assert session["accessJwt"].count(".") == 2  # JWT-shaped, as the PDS's
    wrong_kind = create(http, session["refreshJwt"])
    assert (wrong_kind.status_code, wrong_kind.json()["message"]) == (400, "Invalid token type")
    basic = http.post("com.atproto.repo.createRecord", headers={"Authorization": "Basic abc"}, json={})
    assert (basic.status_code, basic.json()["message"]) == (400, "Unexpected authorization type")
    # uploadBlob decodes the token first (to spot service tokens): what is no JWT at all is a bare 500
    garbage = http.post("com.atproto.repo.uploadBlob", content=PNG,
                        headers={**bearer("made-up"), "Content-Type": "image/png"})
    assert garbage.status_code == 500 and garbage.json()["error"] == "InternalServerError"
    clock.now += CONFIG.access_lifetime_seconds
    expired = create(http, session["accessJwt"])
    assert expired.status_code == 400
    assert expired.json() == {"error": "ExpiredToken", "message": "Token has expired"}


def refresh(http: httpx.Client, token: str) -> httpx.Response:
    return http.post("com.atproto.server.refreshSession", headers=bearer(token))


def test_a_used_refresh_token_still_refreshes_for_two_hours_then_is_revoked(
        http: httpx.Client, pds: BlueskyEmulatorServer, clock: FakeClock) -> None:
    """The PDS's rotateRefreshToken: reuse within the grace gives a token with the same next id."""
    session = login(http)
    clock.now += CONFIG.access_lifetime_seconds + 1
    fresh = refresh(http, session["refreshJwt"])
    assert fresh.status_code == 200 and fresh.json()["did"] == CONFIG.did
    assert create(http, fresh.json()["accessJwt"]).status_code == 200
    clock.now += 3600
    again = refresh(http, session["refreshJwt"])  # used an hour ago: still within the grace
    assert again.status_code == 200
    state = pds.state
    assert state.refresh[again.json()["refreshJwt"]][0] == state.refresh[fresh.json()["refreshJwt"]][0]
    assert refresh(http, fresh.json()["refreshJwt"]).status_code == 200  # the next one works on its own
    clock.now += 3600  # two hours after its first use: revoked
    revoked = refresh(http, session["refreshJwt"])
    assert (revoked.status_code, revoked.json()) == (400, {"error": "ExpiredToken",
                                                           "message": "Token has been revoked"})
    assert refresh(http, login(http)["accessJwt"]).json()["message"] == "Invalid token type"
    assert refresh(http, "").json()["error"] == "AuthMissing"


def test_a_refresh_tokens_grace_ends_with_its_own_expiry_if_sooner(http: httpx.Client, clock: FakeClock) -> None:
    session = login(http)
    clock.now += CONFIG.refresh_lifetime_seconds - 600
    assert refresh(http, session["refreshJwt"]).status_code == 200
    clock.now += 600
    late = refresh(http, session["refreshJwt"])
    assert (late.status_code, late.json()["message"]) == (400, "Token has expired")


def upload(http: httpx.Client, token: str, data: bytes, mime: str = "image/png") -> httpx.Response:
    return http.post("com.atproto.repo.uploadBlob", content=data, headers={**bearer(token), "Content-Type": mime})


def test_upload_blob_takes_up_to_5_mib_and_a_post_refuses_an_image_over_a_million_bytes(
        http: httpx.Client, pds: BlueskyEmulatorServer) -> None:
    token = login(http)["accessJwt"]
    ok = upload(http, token, PNG)
    blob = ok.json()["blob"]
    assert blob == {"$type": "blob", "ref": {"$link": cid_for(PNG, 0x55)}, "mimeType": "image/png", "size": len(PNG)}
    assert blob["ref"]["$link"].startswith("bafkrei")  # CIDv1, raw codec, sha2-256
    big = upload(http, token, png() + bytes(1_000_001))
    assert big.status_code == 200  # the PDS's upload limit is 5 MiB...
    too_big = create(http, token, record={"embed": {"$type": "app.bsky.embed.external", "external": {
        "uri": "https://a.fr", "title": "t", "description": "d", "thumb": big.json()["blob"]}}})
    assert (too_big.status_code, too_big.json()) == (400, {  # ...the post's image limit a million bytes
        "error": "InvalidRequest", "message": f"Invalid app.bsky.feed.post record: blob too big (maximum 1000000, "
                                              f"got {len(png()) + 1_000_001}) at $.record.embed.external.thumb"})
    over = upload(http, token, b"a" * (5 * 1024 * 1024 + 1), "image/jpeg")
    assert (over.status_code, over.json()["error"]) == (413, "PayloadTooLarge")
    assert pds.state.post_count() == 0


def test_upload_blob_reads_the_type_in_the_bytes_and_a_broken_png_is_a_500(http: httpx.Client) -> None:
    token = login(http)["accessJwt"]
    broken = upload(http, token, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert (broken.status_code, broken.json()) == (500, {"error": "InternalServerError",
                                                         "message": "Internal Server Error"})
    assert upload(http, token, PNG, "image/jpeg").json()["blob"]["mimeType"] == "image/png"  # the bytes win
    assert upload(http, token, b"not an image", "image/png").json()["blob"]["mimeType"] == "image/png"  # kept
    no_type = http.post("com.atproto.repo.uploadBlob", content=PNG, headers=bearer(token))
    assert no_type.status_code == 400 and "Content-Type" in no_type.json()["message"]


@pytest.mark.parametrize(("data", "mime"), [
    (PNG, "image/png"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00acTL", "image/apng"), (b"\xff\xd8\xff\xe0", "image/jpeg"),
    (b"GIF89a\x01\x00", "image/gif"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"), (b"hello", None),
    (b"\x89PNG\r\n\x1a\n\xff\xff\xff\xffIHDR", None),
])
def test_sniffed_types(data: bytes, mime: str | None) -> None:
    assert sniff_mime(data) == mime


def test_a_blob_named_must_be_uploaded_and_named_as_it_was_until_a_post_names_it(http: httpx.Client) -> None:
    token = login(http)["accessJwt"]

    def thumb(blob: dict[str, Any]) -> dict[str, Any]:
        return {"record": {"embed": {"$type": "app.bsky.embed.external", "external": {
            "uri": "https://a.fr", "title": "t", "description": "d", "thumb": blob}}}}

    unknown = {"$type": "blob", "ref": {"$link": cid_for(b"never uploaded", 0x55)}, "mimeType": "image/png", "size": 3}
    missing = create(http, token, **thumb(unknown))
    assert (missing.status_code, missing.json()) == (400, {
        "error": "BlobNotFound", "message": f"Could not find blob: {unknown['ref']['$link']}"})
    blob = upload(http, token, PNG).json()["blob"]
    wrong_size = create(http, token, **thumb({**blob, "size": len(PNG) + 1}))
    assert (wrong_size.status_code, wrong_size.json()["error"]) == (400, "InvalidSize")
    wrong_type = create(http, token, **thumb({**blob, "mimeType": "image/jpeg"}))
    assert (wrong_type.status_code, wrong_type.json()["error"]) == (400, "InvalidMimeType")
    assert create(http, token, **thumb(blob)).status_code == 200
    assert create(http, token, **thumb({**blob, "size": len(PNG) + 1})).status_code == 200  # as on the PDS


def test_create_record_with_a_chosen_key_and_the_same_key_again(http: httpx.Client,
                                                               pds: BlueskyEmulatorServer) -> None:
    token = login(http)["accessJwt"]
    first = create(http, token, rkey="3lbq2zxyzab22")
    assert first.status_code == 200
    body = first.json()
    assert body["uri"] == f"at://{CONFIG.did}/app.bsky.feed.post/3lbq2zxyzab22"
    assert body["validationStatus"] == "valid" and body["cid"].startswith("bafyrei")
    again = create(http, token, "Bonjour encore", rkey="3lbq2zxyzab22")
    assert again.status_code == 500  # the reference PDS's answer (bluesky-social/atproto#3718)
    assert again.json() == {"error": "InternalServerError", "message": "Internal Server Error"}
    assert pds.state.post_count() == 1
    found = http.get("com.atproto.repo.getRecord",
                     params={"repo": CONFIG.did, "collection": "app.bsky.feed.post", "rkey": "3lbq2zxyzab22"})
    assert found.json()["value"]["text"] == "Bonjour" and found.json()["uri"] == body["uri"]
    missing = http.get("com.atproto.repo.getRecord",
                       params={"repo": CONFIG.did, "collection": "app.bsky.feed.post", "rkey": "3lbq2zxyzab23"})
    assert missing.status_code == 400 and missing.json()["error"] == "RecordNotFound"


LINK = "app.bsky.richtext.facet#link"
INVALID = "Invalid app.bsky.feed.post record: "


@pytest.mark.parametrize(("text", "extra", "said"), [  # each message as the reference PDS gives it
    ("é" * 301, {}, INVALID + "grapheme too big (maximum 300, got 301) at $.record.text"),
    ("👨‍👩‍👧‍👦" * 121, {}, INVALID + "string too big (maximum 3000, got 3025) at $.record.text"),
    ("Bonjour", {"record": {"createdAt": "hier"}}, INVALID + 'Invalid datetime (got "hier") at $.record.createdAt'),
    ("Bonjour", {"record": {"facets": [{"index": {"byteStart": -1, "byteEnd": 3}, "features": []}]}},
     INVALID + "integer too small (minimum 0, got -1) at $.record.facets[0].index.byteStart"),
    ("Bonjour", {"record": {"facets": [{"index": {"byteStart": 0, "byteEnd": 3},
                                        "features": [{"$type": LINK, "uri": "a.fr"}]}]}},
     INVALID + 'Invalid uri (got "a.fr") at $.record.facets[0].features[0].uri'),
    ("Bonjour", {"record": {"facets": [{"index": {"byteStart": 0, "byteEnd": 3},
                                        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "a" * 65}]}]}},
     INVALID + "grapheme too big (maximum 64, got 65) at $.record.facets[0].features[0].tag"),
    ("Bonjour", {"record": {"embed": {"$type": "app.bsky.embed.external",
                                      "external": {"uri": "https://a.fr", "title": "t"}}}},
     INVALID + 'Missing required key "description" at $.record.embed.external'),
    ("Bonjour", {"record": {"embed": {"$type": "app.bsky.embed.images", "images": [{"image": {"foo": 1}}] * 5}}},
     INVALID + "array too big (maximum 4, got 5) at $.record.embed.images"),
    ("Bonjour", {"record": {"langs": ["fr", "en", "de", "it"]}},
     INVALID + "array too big (maximum 3, got 4) at $.record.langs"),
    ("Bonjour", {"record": {"embed": {"$type": "app.bsky.embed.external", "external": {
        "uri": "https://a.fr", "title": "t", "description": "d",
        "thumb": {"$type": "blob", "ref": {"$link": "bafkreinope"}, "mimeType": "image/png", "size": 3}}}}},
     INVALID + 'Expected blob value type (got {"$type": ..., "ref": ..., ...}) at $.record.embed.external.thumb'),
    ("Bonjour", {"rkey": "no/slash"}, 'Invalid record key (got "no/slash") at $.rkey'),
])
def test_invalid_records_are_400_invalid_request(http: httpx.Client, pds: BlueskyEmulatorServer, text: str,
                                                 extra: dict[str, Any], said: str) -> None:
    answer = create(http, login(http)["accessJwt"], text, **extra)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": "InvalidRequest", "message": said}
    assert pds.state.post_count() == 0


def test_what_the_pds_stores_though_the_app_ignores_it(http: httpx.Client, pds: BlueskyEmulatorServer) -> None:
    """Facets outside the text or reversed, no features, unknown features, an empty tag, no images."""
    token = login(http)["accessJwt"]
    pds.state.config.record_rate_limit = 100
    for facets, embed in (
            ([{"index": {"byteStart": 3, "byteEnd": 90}, "features": [{"$type": LINK, "uri": "https://a.fr"}]}], None),
            ([{"index": {"byteStart": 5, "byteEnd": 2}, "features": []}], None),
            ([{"index": {"byteStart": 0, "byteEnd": 3}, "features": [{"$type": "app.bsky.richtext.facet#bold"}]}],
             None),
            ([{"index": {"byteStart": 0, "byteEnd": 3}, "features": [{"$type": "app.bsky.richtext.facet#tag",
                                                                      "tag": ""}]}], None),
            ([], {"$type": "app.bsky.embed.images", "images": []}),
            ([], {"$type": "com.example.embed", "x": 1})):
        record: dict[str, Any] = {"facets": facets, **({"embed": embed} if embed else {})}
        assert create(http, token, record=record).status_code == 200, (facets, embed)
    assert pds.state.post_count() == 6


def test_records_at_the_limits_are_accepted(http: httpx.Client) -> None:
    token = login(http)["accessJwt"]
    assert create(http, token, "é" * 300).status_code == 200
    assert create(http, token, "👨‍👩‍👧‍👦" * 120).status_code == 200
    text = "Café https://a.fr"
    facet = {"index": {"byteStart": 6, "byteEnd": 18},
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://a.fr"}]}
    assert len(text.encode()) == 18
    assert create(http, token, text, record={"facets": [facet]}).status_code == 200


def test_author_feed_pages_newest_first_and_posts_carry_counts(http: httpx.Client,
                                                               pds: BlueskyEmulatorServer) -> None:
    token = login(http)["accessJwt"]
    for number in range(7):
        pds.state.seed_post(f"post {number}", created_at=datetime(2026, 1, 1 + number, tzinfo=UTC))
    first = http.get("app.bsky.feed.getAuthorFeed", params={"actor": CONFIG.handle, "limit": 3},
                     headers=bearer(token)).json()
    assert [item["post"]["record"]["text"] for item in first["feed"]] == ["post 6", "post 5", "post 4"]
    second = http.get("app.bsky.feed.getAuthorFeed", params={"actor": CONFIG.did, "limit": 3,
                                                             "cursor": first["cursor"]}, headers=bearer(token)).json()
    assert [item["post"]["record"]["text"] for item in second["feed"]] == ["post 3", "post 2", "post 1"]
    last = http.get("app.bsky.feed.getAuthorFeed", params={"actor": CONFIG.did, "limit": 3,
                                                           "cursor": second["cursor"]}, headers=bearer(token)).json()
    assert [item["post"]["record"]["text"] for item in last["feed"]] == ["post 0"] and "cursor" not in last
    assert http.get("app.bsky.feed.getAuthorFeed", params={"actor": CONFIG.did, "limit": 101},
                    headers=bearer(token)).status_code == 400
    assert http.get("app.bsky.feed.getAuthorFeed", params={"actor": CONFIG.did}).json()["error"] == "AuthMissing"
    uri = first["feed"][0]["post"]["uri"]
    pds.state.set_counts(uri, likes=4, reposts=3, replies=2, quotes=1)
    posts = http.get("app.bsky.feed.getPosts", params={"uris": [uri, "at://nobody/app.bsky.feed.post/x"]},
                     headers=bearer(token)).json()
    assert [(p["likeCount"], p["repostCount"], p["replyCount"], p["quoteCount"]) for p in posts["posts"]] == [
        (4, 3, 2, 1)]
    assert http.get("app.bsky.feed.getPosts", params={"uris": [uri] * 26}, headers=bearer(token)).status_code == 400


def test_rate_limit_headers_on_every_answer_and_429_past_the_limit(http: httpx.Client, clock: FakeClock) -> None:
    token = login(http)["accessJwt"]
    answers = [create(http, token, f"n{n}") for n in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[0].headers["ratelimit-limit"] == "5" and answers[0].headers["ratelimit-remaining"] == "4"
    refused = answers[-1]
    assert refused.json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
    assert refused.headers["ratelimit-remaining"] == "0"
    assert int(refused.headers["ratelimit-reset"]) == int(START) + CONFIG.rate_window_seconds
    clock.now += CONFIG.rate_window_seconds
    assert create(http, token, "later").status_code == 200


def test_scripted_faults_and_unknown_methods(http: httpx.Client, pds: BlueskyEmulatorServer) -> None:
    token = login(http)["accessJwt"]
    pds.state.inject("com.atproto.repo.createRecord", 502, "UpstreamFailure", after_work=True)
    lost = create(http, token, "lost answer")
    assert lost.status_code == 502 and pds.state.post_count() == 1
    assert http.get("com.example.nothing").json()["error"] == "MethodNotImplemented"
