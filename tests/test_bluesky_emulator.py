"""The Bluesky PDS emulator against the documented XRPC answers, over real HTTP.

The clock is injected: tokens expire when the test moves it, never with the date.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from relay.testing.bluesky_emulator import EmulatorConfig
from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer

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


def test_tokens_missing_unknown_and_expired(http: httpx.Client, clock: FakeClock) -> None:
    assert create(http, "").json()["error"] == "AuthenticationRequired"
    unknown = create(http, "made-up")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "InvalidToken")
    session = login(http)
    clock.now += CONFIG.access_lifetime_seconds
    expired = create(http, session["accessJwt"])
    assert expired.status_code == 400
    assert expired.json() == {"error": "ExpiredToken", "message": "Token has expired"}


def test_refresh_gives_a_new_pair_and_revokes_the_old_refresh_token(http: httpx.Client, clock: FakeClock) -> None:
    session = login(http)
    clock.now += CONFIG.access_lifetime_seconds + 1
    fresh = http.post("com.atproto.server.refreshSession", headers=bearer(session["refreshJwt"]))
    assert fresh.status_code == 200 and fresh.json()["did"] == CONFIG.did
    assert create(http, fresh.json()["accessJwt"]).status_code == 200
    again = http.post("com.atproto.server.refreshSession", headers=bearer(session["refreshJwt"]))
    assert again.status_code == 401 and again.json()["error"] == "InvalidToken"


def test_upload_blob_answers_a_blob_ref_and_refuses_over_a_million_bytes(http: httpx.Client) -> None:
    token = login(http)["accessJwt"]
    ok = http.post("com.atproto.repo.uploadBlob", content=b"\x89PNG" + b"0" * 999_996,
                   headers={**bearer(token), "Content-Type": "image/png"})
    blob = ok.json()["blob"]
    assert blob["$type"] == "blob" and blob["mimeType"] == "image/png" and blob["size"] == 1_000_000
    assert blob["ref"]["$link"].startswith("bafkrei")  # CIDv1, raw codec, sha2-256
    too_big = http.post("com.atproto.repo.uploadBlob", content=b"0" * 1_000_001,
                        headers={**bearer(token), "Content-Type": "image/png"})
    assert too_big.status_code == 400 and too_big.json()["error"] == "BlobTooLarge"


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


@pytest.mark.parametrize(("text", "extra", "said"), [
    ("é" * 301, {}, "must not be longer than 300 graphemes"),
    ("👨‍👩‍👧‍👦" * 121, {}, "must not be longer than 3000 characters"),
    ("Bonjour", {"record": {"createdAt": "hier"}}, "createdAt"),
    ("Bonjour", {"record": {"facets": [{"index": {"byteStart": 3, "byteEnd": 9},
                                        "features": [{"$type": "app.bsky.richtext.facet#link",
                                                      "uri": "https://a.fr"}]}]}}, "inside the text's 7 bytes"),
    ("Bonjour", {"record": {"facets": [{"index": {"byteStart": 0, "byteEnd": 3},
                                        "features": [{"$type": "app.bsky.richtext.facet#bold"}]}]}}, "features"),
    ("Bonjour", {"record": {"embed": {"$type": "app.bsky.embed.external",
                                      "external": {"uri": "https://a.fr", "title": "t"}}}}, "description"),
    ("Bonjour", {"record": {"embed": {"$type": "app.bsky.embed.external", "external": {
        "uri": "https://a.fr", "title": "t", "description": "d",
        "thumb": {"$type": "blob", "ref": {"$link": "bafkreinope"}, "mimeType": "image/png", "size": 3}}}}},
     "Could not find blob"),
    ("Bonjour", {"rkey": "no/slash"}, "Invalid record key"),
])
def test_invalid_records_are_400_invalid_request(http: httpx.Client, pds: BlueskyEmulatorServer, text: str,
                                                 extra: dict[str, Any], said: str) -> None:
    answer = create(http, login(http)["accessJwt"], text, **extra)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "InvalidRequest" and said in answer.json()["message"]
    assert pds.state.post_count() == 0


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
    assert http.get("app.bsky.feed.getAuthorFeed", params={"actor": CONFIG.did}).status_code == 401
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
