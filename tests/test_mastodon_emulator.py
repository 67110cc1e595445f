"""The Mastodon emulator against Mastodon's documented answers, over real HTTP (docs.joinmastodon.org)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from relay.testing.mastodon_emulator import IDEMPOTENCY_SECONDS, MastodonEmulatorServer, main, render_content

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mastodon(clock: Clock) -> Iterator[MastodonEmulatorServer]:
    with MastodonEmulatorServer(clock=clock) as server:
        yield server


@pytest.fixture
def api(mastodon: MastodonEmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mastodon.base_url, headers={"Authorization": f"Bearer {mastodon.access_token}"},
                      timeout=10) as client:
        yield client


def test_the_instance_document_gives_the_limits(api: httpx.Client) -> None:
    answer = httpx.get(f"{api.base_url}/api/v2/instance", timeout=10)  # public: no token needed
    assert answer.status_code == 200
    statuses = answer.json()["configuration"]["statuses"]
    assert statuses == {"max_characters": 500, "max_media_attachments": 4, "characters_reserved_per_url": 23}
    media = answer.json()["configuration"]["media_attachments"]
    assert media["description_limit"] == 1500 and "image/png" in media["supported_mime_types"]


def test_the_limit_is_configurable() -> None:
    with MastodonEmulatorServer(max_characters=1000) as server:
        answer = httpx.get(f"{server.base_url}/api/v2/instance", timeout=10).json()
        assert answer["configuration"]["statuses"]["max_characters"] == 1000


def test_verify_credentials_needs_a_valid_bearer_token(api: httpx.Client) -> None:
    assert api.get("/api/v1/accounts/verify_credentials").json()["username"] == "relay"
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": ""}):
        answer = httpx.get(f"{api.base_url}/api/v1/accounts/verify_credentials", headers=headers, timeout=10)
        assert answer.status_code == 401
        assert answer.json() == {"error": "The access token is invalid"}


def test_a_read_only_token_cannot_post() -> None:
    with MastodonEmulatorServer(scopes=frozenset({"read"})) as server:
        answer = httpx.post(f"{server.base_url}/api/v1/statuses", json={"status": "hi"},
                            headers={"Authorization": f"Bearer {server.access_token}"}, timeout=10)
        assert answer.status_code == 403
        assert answer.json() == {"error": "This action is outside the authorized scopes"}


def test_a_status_is_created_with_its_counts_and_html(api: httpx.Client, mastodon: MastodonEmulatorServer) -> None:
    text = "Title\n\nSummary line\nsecond line\n\n#Plomberie https://example.com/" + "a" * 60
    answer = api.post("/api/v1/statuses", json={"status": text, "visibility": "public"})
    assert answer.status_code == 200
    status = answer.json()
    assert status["created_at"] == "2027-01-15T08:00:00.000Z"
    assert (status["favourites_count"], status["reblogs_count"], status["replies_count"]) == (0, 0, 0)
    assert status["content"].startswith("<p>Title</p><p>Summary line<br />second line</p><p>")
    assert 'href="https://example.com/' in status["content"] and 'class="mention hashtag"' in status["content"]
    assert status["tags"] == [{"name": "plomberie", "url": "https://mastodon.example/tags/plomberie"}]
    mastodon.set_counts(status["id"], favourites=3, reblogs=2, replies=1)
    again = api.get(f"/api/v1/statuses/{status['id']}").json()
    assert (again["favourites_count"], again["reblogs_count"], again["replies_count"]) == (3, 2, 1)
    assert api.get("/api/v1/statuses/1").json() == {"error": "Record not found"}


def test_the_same_idempotency_key_within_an_hour_gives_the_same_status(
    api: httpx.Client, mastodon: MastodonEmulatorServer, clock: Clock
) -> None:
    first = api.post("/api/v1/statuses", json={"status": "once"}, headers={"Idempotency-Key": "k1"}).json()
    clock.now += IDEMPOTENCY_SECONDS - 1
    second = api.post("/api/v1/statuses", json={"status": "once"}, headers={"Idempotency-Key": "k1"}).json()
    assert second["id"] == first["id"]
    assert mastodon.posts_created == 1 and mastodon.idempotent_replays == 1
    clock.now += 1  # the key is forgotten after an hour
    third = api.post("/api/v1/statuses", json={"status": "once"}, headers={"Idempotency-Key": "k1"}).json()
    assert third["id"] != first["id"] and mastodon.posts_created == 2


def test_the_length_is_checked_as_mastodon_counts(api: httpx.Client) -> None:
    url = "https://example.com/" + "a" * 1980
    assert api.post("/api/v1/statuses", json={"status": "é" * 476 + " " + url}).status_code == 200
    too_long = api.post("/api/v1/statuses", json={"status": "é" * 477 + " " + url})
    assert too_long.status_code == 422
    assert too_long.json() == {"error": "Validation failed: Text character limit of 500 exceeded"}
    blank = api.post("/api/v1/statuses", json={"status": "  "})
    assert blank.status_code == 422 and "can't be blank" in blank.json()["error"]


def test_form_encoded_statuses_are_accepted_too(api: httpx.Client, mastodon: MastodonEmulatorServer) -> None:
    media = api.post("/api/v2/media", files={"file": ("a.png", PNG, "image/png")}).json()
    answer = api.post("/api/v1/statuses", data={"status": "form post", "media_ids[]": [media["id"]]})
    assert answer.status_code == 200
    assert [m["id"] for m in answer.json()["media_attachments"]] == [media["id"]]


def test_media_is_ready_at_once_or_after_processing(api: httpx.Client) -> None:
    answer = api.post("/api/v2/media", files={"file": ("a.png", PNG, "image/png")}, data={"description": "A tap"})
    assert answer.status_code == 200
    assert answer.json()["description"] == "A tap" and answer.json()["url"]
    with MastodonEmulatorServer(media_processing_polls=2) as slow:
        auth = {"Authorization": f"Bearer {slow.access_token}"}
        pending = httpx.post(f"{slow.base_url}/api/v2/media", files={"file": ("a.png", PNG, "image/png")},
                             headers=auth, timeout=10)
        assert pending.status_code == 202 and pending.json()["url"] is None
        media_id = pending.json()["id"]
        early = httpx.post(f"{slow.base_url}/api/v1/statuses", json={"status": "x", "media_ids": [media_id]},
                           headers=auth, timeout=10)
        assert early.status_code == 422 and "not finished processing" in early.json()["error"]
        polls = [httpx.get(f"{slow.base_url}/api/v1/media/{media_id}", headers=auth, timeout=10).status_code
                 for _ in range(3)]
        assert polls == [206, 206, 200]


def test_uploads_are_checked(api: httpx.Client) -> None:
    not_image = api.post("/api/v2/media", files={"file": ("a.txt", b"hello", "text/plain")})
    assert not_image.status_code == 422
    long_description = api.post("/api/v2/media", files={"file": ("a.png", PNG, "image/png")},
                                data={"description": "d" * 1501})
    assert long_description.status_code == 422
    assert long_description.json()["error"] == "Validation failed: Description is too long (maximum is 1500 characters)"


def test_timelines_page_newest_first_with_link_headers(api: httpx.Client, mastodon: MastodonEmulatorServer) -> None:
    made = [mastodon.seed_status(f"post {n}", created_at=datetime.fromtimestamp(START + n)) for n in range(5)]
    path = f"/api/v1/accounts/{mastodon.state.config.account_id}/statuses"
    first = api.get(path, params={"limit": 2})
    assert [s["id"] for s in first.json()] == [made[4].id, made[3].id]
    assert first.links["next"]["url"].endswith(f"max_id={made[3].id}")
    assert first.links["prev"]["url"].endswith(f"min_id={made[4].id}")
    second = api.get(first.links["next"]["url"])
    assert [s["id"] for s in second.json()] == [made[2].id, made[1].id]
    newer = api.get(path, params={"limit": 2, "min_id": made[1].id}).json()
    assert [s["id"] for s in newer] == [made[3].id, made[2].id]
    last = api.get(path, params={"limit": 2, "max_id": made[0].id})
    assert last.json() == [] and "link" not in last.headers
    assert api.get("/api/v1/accounts/1/statuses").status_code == 404


def test_rate_limit_headers_and_429(api: httpx.Client, mastodon: MastodonEmulatorServer, clock: Clock) -> None:
    answer = api.get("/api/v1/accounts/verify_credentials")
    assert answer.headers["x-ratelimit-limit"] == "300"
    assert answer.headers["x-ratelimit-remaining"] == "299"
    assert answer.headers["x-ratelimit-reset"] == "2027-01-15T08:05:00.000000Z"
    mastodon.exhaust_rate_limit()
    refused = api.post("/api/v1/statuses", json={"status": "hi"})
    assert refused.status_code == 429 and refused.json() == {"error": "Too many requests"}
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert mastodon.posts_created == 0
    clock.now += 300
    assert api.post("/api/v1/statuses", json={"status": "hi"}).status_code == 200


def test_faults_fail_before_or_after_the_work(api: httpx.Client, mastodon: MastodonEmulatorServer) -> None:
    mastodon.inject(status=500)
    assert api.post("/api/v1/statuses", json={"status": "a"}).status_code == 500
    assert mastodon.posts_created == 0
    mastodon.inject(status=502, accept_then_fail=True)
    assert api.post("/api/v1/statuses", json={"status": "b"}).status_code == 502
    assert [s.text for s in mastodon.statuses()] == ["b"]
    assert api.post("/api/v1/statuses", json={"status": "c"}).status_code == 200


def test_content_escapes_html() -> None:
    assert render_content("<b>&</b>", "m.example") == "<p>&lt;b&gt;&amp;&lt;/b&gt;</p>"


def test_the_command_line_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    import relay.testing.mastodon_emulator as module

    seen: dict[str, object] = {}
    monkeypatch.setattr(module.uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    main(["--port", "9999", "--max-characters", "1000", "--access-token", "t"])
    assert seen["port"] == 9999
