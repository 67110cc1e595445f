"""The Bluesky publisher against the PDS emulator over real HTTP: exactly once with a record key,
sessions refreshed once, blobs and link cards, errors mapped to relay's tree, the feed paged."""

from __future__ import annotations

import ast
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from relay.adapters.bluesky import BlueskyCredentials, BlueskyPublisher, web_url
from relay.core.bluesky_text import compose_bluesky_post
from relay.core.bluesky_tid import is_tid, record_key_for_delivery
from relay.core.models import Post
from relay.errors import AccountBlocked, PostRefused, RateLimited, TransientPublishError
from relay.testing.bluesky_emulator import EmulatorConfig
from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer
from tests.images import PNG

ROOT = Path(__file__).resolve().parents[1]
START = 1_800_000_000.0
CONFIG = EmulatorConfig()
CREATED = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


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
    with BlueskyEmulatorServer(clock=clock) as server:
        yield server


def publisher_for(pds: BlueskyEmulatorServer, password: str = CONFIG.app_password) -> BlueskyPublisher:
    return BlueskyPublisher(BlueskyCredentials(CONFIG.handle, password), service_url=pds.base_url,
                            timeout=httpx.Timeout(5.0))


@pytest.fixture
def bluesky(pds: BlueskyEmulatorServer) -> Iterator[BlueskyPublisher]:
    publisher = publisher_for(pds)
    yield publisher
    publisher.close()


def test_a_composed_post_goes_out_with_facets_card_and_thumbnail(bluesky: BlueskyPublisher,
                                                                 pds: BlueskyEmulatorServer) -> None:
    composed = compose_bluesky_post(
        Post(url="https://blog.example.fr/2026/01/economies-energie", title="Économies d’énergie 🇫🇷",
             summary_html="<p>Dix gestes simples.</p>", categories=("Maison",)),
        today=date(2026, 1, 15))
    media = bluesky.upload_image(PNG, "image/png", "Une maison")
    key = record_key_for_delivery(7, CREATED)
    published = bluesky.publish(composed.text, [media], record_key=key, facets=composed.facets,
                                card=composed.card, created_at=CREATED)
    assert published.tweet_id == f"at://{CONFIG.did}/app.bsky.feed.post/{key}" and is_tid(key)
    stored = pds.state.posts[key].record
    assert stored["text"] == composed.text and stored["createdAt"] == "2026-01-15T09:30:00.000Z"
    assert stored["facets"] == composed.facets_record()
    external = stored["embed"]["external"]
    assert external["uri"] == composed.link and external["title"] == "Économies d’énergie 🇫🇷"
    assert external["thumb"]["size"] == len(PNG) and external["thumb"]["mimeType"] == "image/png"


def test_the_same_record_key_twice_makes_one_post(bluesky: BlueskyPublisher, pds: BlueskyEmulatorServer) -> None:
    key = record_key_for_delivery(8, CREATED)
    first = bluesky.publish("Bonjour https://example.fr/a", record_key=key, created_at=CREATED)
    second = bluesky.publish("Bonjour https://example.fr/a", record_key=key, created_at=CREATED)
    assert first.tweet_id == second.tweet_id and pds.state.post_count() == 1
    assert pds.state.count("com.atproto.repo.getRecord") == 1  # the 500 was checked, not retried


def test_an_explicit_already_exists_error_is_read_the_same_way(bluesky: BlueskyPublisher,
                                                                pds: BlueskyEmulatorServer) -> None:
    """bluesky-social/atproto#4728 (open) would answer a repeated key with a named 4xx instead of a 500."""
    key = record_key_for_delivery(13, CREATED)
    first = bluesky.publish("Bonjour", record_key=key, created_at=CREATED)
    pds.state.inject("com.atproto.repo.createRecord", 409, "RecordAlreadyExists", "Record already exists")
    assert bluesky.publish("Bonjour", record_key=key, created_at=CREATED).tweet_id == first.tweet_id
    assert pds.state.post_count() == 1


def test_a_lost_answer_is_found_by_its_record_key(bluesky: BlueskyPublisher, pds: BlueskyEmulatorServer) -> None:
    pds.state.inject("com.atproto.repo.createRecord", 502, "UpstreamFailure", after_work=True)
    key = record_key_for_delivery(9, CREATED)
    published = bluesky.publish("Bonjour", record_key=key, created_at=CREATED)
    assert published.tweet_id.endswith("/" + key) and pds.state.post_count() == 1


def test_a_failure_that_made_no_post_stays_retryable(bluesky: BlueskyPublisher, pds: BlueskyEmulatorServer) -> None:
    pds.state.inject("com.atproto.repo.createRecord", 503, "NotEnoughResources")
    with pytest.raises(TransientPublishError, match="503 NotEnoughResources"):
        bluesky.publish("Bonjour", record_key=record_key_for_delivery(10, CREATED), created_at=CREATED)
    assert pds.state.post_count() == 0
    bluesky.publish("Bonjour", record_key=record_key_for_delivery(10, CREATED), created_at=CREATED)
    assert pds.state.post_count() == 1


def test_an_expired_session_is_refreshed_once(bluesky: BlueskyPublisher, pds: BlueskyEmulatorServer,
                                              clock: FakeClock) -> None:
    bluesky.publish("un", created_at=CREATED)
    clock.now += CONFIG.access_lifetime_seconds + 1
    bluesky.publish("deux", created_at=CREATED)
    bluesky.publish("trois", created_at=CREATED)
    assert pds.state.count("com.atproto.server.createSession") == 1
    assert pds.state.count("com.atproto.server.refreshSession") == 1
    assert pds.state.post_count() == 3
    clock.now += CONFIG.refresh_lifetime_seconds + 1  # the refresh token too: a new session
    bluesky.publish("quatre", created_at=CREATED)
    assert pds.state.count("com.atproto.server.createSession") == 2 and pds.state.post_count() == 4


def test_a_wrong_app_password_blocks_the_account_and_is_never_shown(pds: BlueskyEmulatorServer,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    secret = "wxyz-wxyz-wxyz-wxyz"
    publisher = publisher_for(pds, secret)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AccountBlocked, match="401 AuthenticationRequired") as raised:
        publisher.publish("Bonjour", created_at=CREATED)
    shown = [str(raised.value), repr(publisher), repr(publisher._credentials), str(publisher._credentials),
             caplog.text]
    assert not any(secret in text for text in shown)
    publisher.close()


def test_429_is_rate_limited_with_the_reset(bluesky: BlueskyPublisher, pds: BlueskyEmulatorServer) -> None:
    pds.state.inject("com.atproto.repo.createRecord", 429, "RateLimitExceeded", "Rate Limit Exceeded",
                     reset_in=120)
    with pytest.raises(RateLimited) as raised:
        bluesky.publish("Bonjour", created_at=CREATED)
    assert raised.value.reset_at == START + 120


def test_the_real_window_limit_is_rate_limited_too(pds: BlueskyEmulatorServer) -> None:
    pds.state.config.record_rate_limit = 2
    publisher = publisher_for(pds)
    publisher.publish("un", created_at=CREATED)
    publisher.publish("deux", created_at=CREATED)
    with pytest.raises(RateLimited) as raised:
        publisher.publish("trois", created_at=CREATED)
    assert raised.value.reset_at == START + CONFIG.rate_window_seconds
    publisher.close()


def test_an_invalid_post_is_refused_and_a_huge_image_too(bluesky: BlueskyPublisher,
                                                         pds: BlueskyEmulatorServer) -> None:
    with pytest.raises(PostRefused, match=r"grapheme too big \(maximum 300, got 301\) at \$\.record\.text"):
        bluesky.publish("é" * 301, record_key=record_key_for_delivery(11, CREATED), created_at=CREATED)
    # The PDS would take it (uploads go to 5 MiB) and refuse the post that names it: refused before.
    with pytest.raises(PostRefused, match="at most 1,000,000 bytes"):
        bluesky.upload_image(b"\xff\xd8\xff" + bytes(1_000_000), "image/jpeg")
    with pytest.raises(PostRefused, match="not an image"):
        bluesky.upload_image(b"%PDF-1.7", "application/pdf")
    assert pds.state.count("com.atproto.repo.uploadBlob") == 0 and pds.state.post_count() == 0


def test_a_post_naming_an_image_over_a_million_bytes_is_refused_by_the_pds(bluesky: BlueskyPublisher,
                                                                          pds: BlueskyEmulatorServer) -> None:
    """What upload_image's own limit avoids: the upload passes, the post is refused, without retry."""
    token = pds.state.new_session()["accessJwt"]
    big = httpx.post(f"{pds.base_url}/xrpc/com.atproto.repo.uploadBlob", content=PNG + bytes(1_000_000),
                     headers={"Content-Type": "image/png", "Authorization": f"Bearer {token}"})
    assert big.status_code == 200
    media = json.dumps({"blob": big.json()["blob"], "alt": ""})
    with pytest.raises(PostRefused, match=r"400 InvalidRequest: .*blob too big"):
        bluesky.publish("Bonjour", [media], record_key=record_key_for_delivery(13, CREATED), created_at=CREATED)
    assert pds.state.post_count() == 0


def test_an_image_the_pds_cannot_read_is_a_retryable_500(bluesky: BlueskyPublisher) -> None:
    with pytest.raises(TransientPublishError, match="500 InternalServerError"):
        bluesky.upload_image(b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")


def test_a_token_the_pds_does_not_recognise_means_a_new_login_and_the_call_made(
        bluesky: BlueskyPublisher, pds: BlueskyEmulatorServer) -> None:
    bluesky.publish("un", created_at=CREATED)
    pds.state.access.clear()  # the PDS no longer knows relay's token (400 InvalidToken "Token could not be verified")
    bluesky.publish("deux", created_at=CREATED)
    assert pds.state.count("com.atproto.server.createSession") == 2 and pds.state.post_count() == 2
    assert ("POST", "com.atproto.repo.createRecord", 400) in pds.state.calls


def test_a_token_not_recognised_and_a_login_refused_block_the_account(pds: BlueskyEmulatorServer) -> None:
    publisher = publisher_for(pds)
    publisher.publish("un", created_at=CREATED)
    pds.state.access.clear()
    pds.state.config.app_password = "revoked-revoked-revoked"
    with pytest.raises(AccountBlocked, match="401 AuthenticationRequired: Invalid identifier or password"):
        publisher.publish("deux", created_at=CREATED)
    assert pds.state.post_count() == 1
    publisher.close()


def test_a_refresh_token_past_its_grace_means_a_new_login(bluesky: BlueskyPublisher, pds: BlueskyEmulatorServer,
                                                          clock: FakeClock) -> None:
    bluesky.publish("un", created_at=CREATED)
    pds.state.grants.clear()  # revoked (or past the PDS's two-hour grace): 400 ExpiredToken "Token has been revoked"
    clock.now += CONFIG.access_lifetime_seconds + 1
    bluesky.publish("deux", created_at=CREATED)
    assert ("POST", "com.atproto.server.refreshSession", 400) in pds.state.calls
    assert pds.state.count("com.atproto.server.createSession") == 2 and pds.state.post_count() == 2


def _scripted(answer: Callable[[httpx.Request], httpx.Response]) -> BlueskyPublisher:
    return BlueskyPublisher(BlueskyCredentials(CONFIG.handle, CONFIG.app_password),
                            service_url="https://pds.invalid", transport=httpx.MockTransport(answer))


def test_an_unreachable_pds_is_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(TransientPublishError, match="could not reach Bluesky"):
        _scripted(refuse).publish("Bonjour")


def test_a_timed_out_create_that_landed_is_found_and_one_that_did_not_stays_retryable() -> None:
    landed: dict[str, bool] = {"yes": True}
    session = {"accessJwt": "a", "refreshJwt": "r", "did": CONFIG.did, "handle": CONFIG.handle}

    def answer(request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        if method == "com.atproto.server.createSession":
            return httpx.Response(200, json=session)
        if method == "com.atproto.repo.createRecord":
            raise httpx.ReadTimeout("no answer", request=request)
        if landed["yes"]:
            rkey = request.url.params["rkey"]
            return httpx.Response(200, json={"uri": f"at://{CONFIG.did}/app.bsky.feed.post/{rkey}", "cid": "c",
                                             "value": {"text": "Bonjour"}})
        return httpx.Response(400, json={"error": "RecordNotFound", "message": "Could not locate record"})

    key = record_key_for_delivery(12, CREATED)
    assert _scripted(answer).publish("Bonjour", record_key=key).tweet_id.endswith("/" + key)
    landed["yes"] = False
    with pytest.raises(TransientPublishError, match="did not answer in time"):
        _scripted(answer).publish("Bonjour", record_key=key)


def test_the_web_address_of_a_post() -> None:
    uri = f"at://{CONFIG.did}/app.bsky.feed.post/3lbq2zxyzab22"
    assert web_url(uri) == f"https://bsky.app/profile/{CONFIG.did}/post/3lbq2zxyzab22"
    assert web_url(uri, "relay.test") == "https://bsky.app/profile/relay.test/post/3lbq2zxyzab22"
    with pytest.raises(ValueError):
        web_url("https://bsky.app/x")


def test_relay_without_a_bluesky_account_never_loads_the_publisher_or_regex() -> None:
    code = ("import sys, relay.wiring, relay.cli.main, relay.pipeline.outbox; "
            "loaded = [m for m in ('regex', 'relay.adapters.bluesky', 'relay.core.bluesky_text') if m in sys.modules]; "
            "assert not loaded, loaded")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]


def test_no_module_but_wiring_imports_the_bluesky_publisher() -> None:
    users = [path.name for path in (ROOT / "relay").rglob("*.py")
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.ImportFrom | ast.Import)
             and any(name.startswith("relay.adapters.bluesky") for name in _imported(node))]
    assert set(users) <= {"wiring.py"}, users


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    return [alias.name for alias in node.names]


def test_images_without_a_card_are_attached_with_their_descriptions(bluesky: BlueskyPublisher,
                                                                     pds: BlueskyEmulatorServer) -> None:
    media = bluesky.upload_image(PNG, "image/png", "Un chat")
    published = bluesky.publish("Un chat #Chats", [media], created_at=CREATED)
    record = next(p.record for p in pds.state.posts.values() if p.uri == published.tweet_id)
    assert record["embed"]["$type"] == "app.bsky.embed.images"
    assert record["embed"]["images"][0]["alt"] == "Un chat"
    assert record["facets"][0]["features"][0] == {"$type": "app.bsky.richtext.facet#tag", "tag": "Chats"}


def test_recent_posts_pages_back_with_links(bluesky: BlueskyPublisher, pds: BlueskyEmulatorServer) -> None:
    for number in range(230):
        link = f"https://example.fr/{number}"
        pds.state.seed_post(
            f"post {number} example.fr/{number}", created_at=CREATED + timedelta(hours=number),
            facets=[{"index": {"byteStart": 0, "byteEnd": 4},
                     "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}]}],
            embed={"$type": "app.bsky.embed.external",
                   "external": {"uri": link + "?card", "title": "t", "description": "d"}})
    newest = bluesky.recent_posts(max_results=150)
    assert len(newest) == 150 and newest[0].text.startswith("post 229") and newest[-1].text.startswith("post 80")
    assert newest[0].links == ("https://example.fr/229", "https://example.fr/229?card")
    assert newest[0].created_at == CREATED + timedelta(hours=229)
    assert pds.state.count("app.bsky.feed.getAuthorFeed") == 2
    since = bluesky.recent_posts(since=CREATED + timedelta(hours=10))
    assert len(since) == 220 and since[-1].text.startswith("post 10")


def test_metrics_come_back_per_post_in_batches(bluesky: BlueskyPublisher, pds: BlueskyEmulatorServer) -> None:
    uris = [bluesky.publish(f"n{n}", created_at=CREATED).tweet_id for n in range(30)]
    pds.state.set_counts(uris[0], likes=5, reposts=4, replies=3, quotes=2)
    metrics = bluesky.post_metrics(uris)
    assert len(metrics) == 30 and pds.state.count("app.bsky.feed.getPosts") == 2
    first = metrics[uris[0]]
    assert (first.like_count, first.repost_count, first.reply_count, first.quote_count) == (5, 4, 3, 2)
