"""``POST /hooks/wordpress`` over real HTTP: relay served by uvicorn, the X emulator behind it.

Every answer of the receiver: 401 (unsigned, forged, stale, unknown key), key rotation,
the WP Webhooks header, 200 for a delivery already processed, 413, 415, 400, 422, 503,
202 with the tweet at the emulator, the posts that are not relayed, scheduled posts,
a post trashed while queued, and one post arriving by feed and by webhook.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from relay.config.settings import load_settings
from relay.routes.app import create_app
from relay.store.engine import apply_migrations, make_engine
from relay.store.schema import deliveries, posts, webhook_ids
from relay.store.webhook_ids import KEEP, remember_webhook_id, webhook_id_seen
from relay.testing.x_emulator import EmulatorServer
from relay.webhooks.signatures import body_signature, standard_signature
from relay.wiring import Runtime, build_runtime
from tests.feed_server import FeedServer
from tests.feeds import rss_feed
from tests.processes import wait_for
from tests.test_wordpress_payload import connector_payload, wp_webhooks_payload

pytestmark = pytest.mark.slow

SECRET = "whsec_" + base64.b64encode(b"relay route tests: 32 bytes key!").decode()
PREVIOUS_SECRET = "the-secret-being-rotated-out-0123456789"
FAKE_X = {
    "RELAY_X_CONSUMER_KEY": "ck-hooks",
    "RELAY_X_CONSUMER_SECRET": "cs-hooks",
    "RELAY_X_ACCESS_TOKEN": "at-hooks",
    "RELAY_X_ACCESS_TOKEN_SECRET": "ats-hooks",
}
PROBLEM = "application/problem+json"


class RelayApp:
    """relay's ASGI app served by uvicorn on a thread, on a socket bound before it starts."""

    def __init__(self, runtime: Runtime, *, run_worker: bool) -> None:
        self.runtime = runtime
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(runtime, run_worker=run_worker), log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self) -> RelayApp:
        self._thread.start()
        wait_for(lambda: self.server.started, timeout=15, what="relay to start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()

    # -- what the database holds -------------------------------------------------------------

    def count(self, table: Any) -> int:
        with self.runtime.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def delivery_states(self) -> list[str]:
        with self.runtime.store.engine.connect() as conn:
            return list(conn.execute(select(deliveries.c.status).order_by(deliveries.c.id)).scalars())

    # -- sending -------------------------------------------------------------------------------

    def send(
        self,
        payload: Any = None,
        *,
        body: bytes | None = None,
        secret: str = SECRET,
        webhook_id: str | None = None,
        timestamp: int | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        """POST a webhook signed the Standard Webhooks way (like the plugin)."""
        raw = body if body is not None else json.dumps(payload).encode()
        sent_headers = {"Content-Type": content_type} if content_type else {}
        if signed:
            webhook_id = webhook_id or f"wp_test_{time.monotonic_ns()}"
            timestamp = int(time.time()) if timestamp is None else timestamp
            sent_headers |= {
                "webhook-id": webhook_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": standard_signature(secret, webhook_id, timestamp, raw),
            }
        sent_headers |= headers or {}
        return httpx.post(self.url + "/hooks/wordpress", content=raw, headers=sent_headers, timeout=30)


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@contextmanager
def relay_app(tmp_path: Path, emulator: EmulatorServer, *, run_worker: bool = True, config: str = "",
              **env: str) -> Iterator[RelayApp]:
    config_path = tmp_path / "relay.toml"
    # A long tick: a tweet that appears quickly proves the webhook woke the worker up.
    config_path.write_text("[polling]\npublish_interval_seconds = 60\n" + config, encoding="utf-8")
    environ = {
        "RELAY_DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}",
        "RELAY_X_API_BASE_URL": emulator.base_url,
        "RELAY_WORDPRESS_SECRET": SECRET,
        **FAKE_X,
        **env,
    }
    runtime = build_runtime(load_settings(config_path, environ={k: v for k, v in environ.items() if v is not None}))
    apply_migrations(runtime.store.engine)
    app = RelayApp(runtime, run_worker=run_worker).start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture
def relay(tmp_path: Path, emulator: EmulatorServer) -> Iterator[RelayApp]:
    with relay_app(tmp_path, emulator) as app:
        yield app


@pytest.fixture
def paused_relay(tmp_path: Path, emulator: EmulatorServer) -> Iterator[RelayApp]:
    """A relay whose worker does not run: what is queued stays queued until the test drains it."""
    with relay_app(tmp_path, emulator, run_worker=False) as app:
        yield app


def assert_problem(response: httpx.Response, status: int, detail_part: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == status and problem["title"]
    assert detail_part in problem["detail"], problem
    return problem


# -- a valid webhook ----------------------------------------------------------------------------


def test_a_published_post_is_accepted_at_once_and_tweeted(relay: RelayApp, emulator: EmulatorServer) -> None:
    response = relay.send(connector_payload(12, title="Le pain au levain, pas à pas"))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["outcome"] == "queued" and len(body["delivery_ids"]) == 1
    assert body["post"] == {"id": 12, "url": "https://blog.example/2026/11/recette-12/", "status": "publish"}
    wait_for(lambda: len(emulator.tweets()) == 1, timeout=10, what="the tweet at the emulator (worker woken)")
    text = emulator.tweets()[0].text
    assert "Le pain au levain, pas à pas" in text
    assert "https://blog.example/2026/11/recette-12/" in text


def test_a_delivery_already_processed_is_answered_200_and_nothing_is_done(
    relay: RelayApp, emulator: EmulatorServer
) -> None:
    payload = connector_payload(13)
    first = relay.send(payload, webhook_id="wp_blog.example_13_1764064800_publish")
    assert first.status_code == 202
    wait_for(lambda: len(emulator.tweets()) == 1, timeout=10, what="the first tweet")
    # the WP-Cron retry of the same delivery: same id, fresh timestamp and signature
    again = relay.send(payload, webhook_id="wp_blog.example_13_1764064800_publish", timestamp=int(time.time()) + 2)
    assert again.status_code == 200
    assert again.json()["outcome"] == "already_processed"
    time.sleep(0.5)
    assert len(emulator.tweets()) == 1
    assert (relay.count(posts), relay.count(deliveries), relay.count(webhook_ids)) == (1, 1, 1)


def test_a_new_delivery_for_a_known_post_posts_nothing_again(relay: RelayApp, emulator: EmulatorServer) -> None:
    assert relay.send(connector_payload(14)).json()["outcome"] == "queued"
    wait_for(lambda: len(emulator.tweets()) == 1, timeout=10, what="the tweet")
    edited = relay.send(connector_payload(14, event="update", title="Le pain, corrigé", modified="2026-11-25T11:00"))
    assert edited.status_code == 202
    assert edited.json()["outcome"] == "already_known"
    republished = relay.send(connector_payload(14))
    assert republished.json()["outcome"] == "already_known"
    time.sleep(0.5)
    assert len(emulator.tweets()) == 1 and relay.count(deliveries) == 1


def test_an_edit_with_a_new_title_is_posted_when_on_update_says_so(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    with relay_app(tmp_path, emulator, RELAY_WORDPRESS_ON_UPDATE="repost_if_title_changed") as relay:
        relay.send(connector_payload(15, title="Premier titre"))
        wait_for(lambda: len(emulator.tweets()) == 1, timeout=10, what="the first tweet")
        assert relay.send(connector_payload(15, event="update", title="Premier titre")).json()["outcome"] == (
            "already_known")
        assert relay.send(connector_payload(15, event="update", title="Second titre")).json()["outcome"] == "queued"
        wait_for(lambda: len(emulator.tweets()) == 2, timeout=10, what="the second tweet")
        assert "Second titre" in emulator.tweets()[1].text


def test_an_edit_of_a_post_relay_never_saw_is_not_posted(relay: RelayApp, emulator: EmulatorServer) -> None:
    """Fixing a typo in a 2019 article must not tweet it the day the plugin is installed."""
    response = relay.send(connector_payload(16, event="update"))
    assert response.status_code == 202
    assert response.json()["outcome"] == "ignored"
    assert "never saw published" in response.json()["reason"]
    assert relay.count(posts) == 0


@pytest.mark.parametrize(
    ("status", "password", "reason"),
    [("draft", False, "draft"), ("pending", False, "pending"), ("private", False, "private"),
     ("publish", True, "password-protected"), ("future", False, "scheduled")],
)
def test_posts_that_are_not_public_are_ignored_with_the_reason(
    paused_relay: RelayApp, status: str, password: bool, reason: str
) -> None:
    response = paused_relay.send(connector_payload(20, status=status, password=password))
    assert response.status_code == 202
    assert response.json()["outcome"] == "ignored"
    assert reason in response.json()["reason"]
    assert paused_relay.count(posts) == 0 and paused_relay.count(deliveries) == 0


def test_a_scheduled_post_is_tweeted_when_it_is_published(relay: RelayApp, emulator: EmulatorServer) -> None:
    scheduled = relay.send(connector_payload(21, status="future"))
    assert scheduled.json()["outcome"] == "ignored"
    time.sleep(0.3)
    assert emulator.tweets() == []
    published = relay.send(connector_payload(21, status="publish"))
    assert published.json()["outcome"] == "queued"
    wait_for(lambda: len(emulator.tweets()) == 1, timeout=10, what="the scheduled post's tweet")


def test_a_post_trashed_while_queued_is_never_posted(paused_relay: RelayApp, emulator: EmulatorServer) -> None:
    assert paused_relay.send(connector_payload(22)).json()["outcome"] == "queued"
    assert paused_relay.delivery_states() == ["queued"]
    trashed = paused_relay.send(connector_payload(22, event="trash", status="trash"))
    assert trashed.status_code == 202
    assert trashed.json()["outcome"] == "withdrawn"
    assert paused_relay.delivery_states() == ["skipped"]
    asyncio.run(paused_relay.runtime.worker.drain())  # what the worker would do next
    assert emulator.tweets() == []
    unknown = paused_relay.send(connector_payload(23, event="unpublish", status="draft"))
    assert unknown.json()["outcome"] == "unknown"


def test_one_post_by_feed_guid_and_by_webhook_is_one_tweet(tmp_path: Path, emulator: EmulatorServer) -> None:
    with FeedServer() as feeds:
        feeds.set("/feed/", body=rss_feed([1]), headers={"Content-Type": "application/rss+xml"})
        config = f'[[feeds]]\nurl = "{feeds.url("/feed/")}"\nbackfill = 1\n'
        with relay_app(tmp_path, emulator, config=config) as relay:
            wait_for(lambda: len(emulator.tweets()) == 1, timeout=15, what="the feed entry's tweet")
            # The feed's GUID is https://boulangerie.example/?p=1001; the webhook carries id 1001
            # and a link the feed never had: the WordPress ID makes them one post.
            response = relay.send(connector_payload(1001, site="https://boulangerie.example"))
            assert response.json()["outcome"] == "already_known"
            time.sleep(0.5)
            assert len(emulator.tweets()) == 1 and relay.count(posts) == 1


# -- signatures --------------------------------------------------------------------------------


def test_an_unsigned_request_is_401(relay: RelayApp) -> None:
    response = relay.send(connector_payload(), signed=False)
    assert_problem(response, 401, "not signed")
    assert relay.count(posts) == 0 and relay.count(webhook_ids) == 0


def test_a_forged_request_is_401(relay: RelayApp) -> None:
    assert_problem(relay.send(connector_payload(), secret="whsec_" + base64.b64encode(b"guess").decode()),
                   401, "does not match")
    random_signature = "v1," + base64.b64encode(b"x" * 32).decode()
    tampered = relay.send(connector_payload(), headers={"webhook-signature": random_signature})
    assert_problem(tampered, 401, "does not match")
    assert relay.count(posts) == 0


def test_a_stale_or_future_timestamp_is_401(relay: RelayApp) -> None:
    old = relay.send(connector_payload(), timestamp=int(time.time()) - 600)
    assert_problem(old, 401, "behind relay's clock")
    ahead = relay.send(connector_payload(), timestamp=int(time.time()) + 600)
    assert_problem(ahead, 401, "ahead of relay's clock")
    assert relay.count(posts) == 0 and relay.count(webhook_ids) == 0


def test_both_secrets_are_accepted_while_rotating(tmp_path: Path, emulator: EmulatorServer) -> None:
    with relay_app(tmp_path, emulator, run_worker=False, RELAY_WORDPRESS_PREVIOUS_SECRET=PREVIOUS_SECRET) as relay:
        assert relay.send(connector_payload(30), secret=SECRET).status_code == 202
        assert relay.send(connector_payload(31), secret=PREVIOUS_SECRET).status_code == 202
        assert_problem(relay.send(connector_payload(32), secret="a third secret, never configured"), 401,
                       "does not match")
        # a sender mid-rotation signs with both keys in one header
        raw = json.dumps(connector_payload(33)).encode()
        now = int(time.time())
        both = " ".join(standard_signature(s, "wp_rot_33", now, raw) for s in ("unknown key", PREVIOUS_SECRET))
        response = relay.send(body=raw, headers={"webhook-id": "wp_rot_33", "webhook-timestamp": str(now),
                                                 "webhook-signature": both}, signed=False)
        assert response.status_code == 202
        assert relay.count(posts) == 3


def test_the_wp_webhooks_signature_header_is_accepted(relay: RelayApp, emulator: EmulatorServer) -> None:
    raw = json.dumps(wp_webhooks_payload(40)).encode()
    headers = {"X-WP-Webhook-Signature": body_signature(SECRET, raw)}
    response = relay.send(body=raw, headers=headers, signed=False)
    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "queued"
    wait_for(lambda: len(emulator.tweets()) == 1, timeout=10, what="the tweet")
    # no webhook-id in this scheme: the same body again is recognised by its hash
    again = relay.send(body=raw, headers=headers, signed=False)
    assert again.status_code == 200 and again.json()["outcome"] == "already_processed"
    assert_problem(relay.send(body=raw + b" ", headers=headers, signed=False), 401, "does not match")


def test_no_secret_configured_is_503_saying_what_to_set(tmp_path: Path, emulator: EmulatorServer) -> None:
    with relay_app(tmp_path, emulator, run_worker=False, RELAY_WORDPRESS_SECRET="") as relay:
        assert_problem(relay.send(connector_payload()), 503, "set [wordpress] secret")


# -- malformed requests -----------------------------------------------------------------------


def test_a_body_over_one_mebibyte_is_413(relay: RelayApp) -> None:
    payload = connector_payload()
    payload["post"]["content"]["rendered"] = "x" * (1024 * 1024)
    assert_problem(relay.send(payload), 413, "larger than 1048576 bytes")


def test_a_streamed_body_without_length_is_cut_at_one_mebibyte(relay: RelayApp) -> None:
    """Content-Length is a claim: a chunked body that never ends is refused once past the limit."""
    def endless() -> Iterator[bytes]:
        yield b'{"event": "publish", "post": {"content": "'
        for _ in range(2048):  # 128 MiB if relay read it all
            yield b"x" * 65536

    response = httpx.post(relay.url + "/hooks/wordpress", content=endless(), timeout=30,
                          headers={"Content-Type": "application/json", "webhook-id": "x",
                                   "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"})
    assert_problem(response, 413, "larger than")


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(relay: RelayApp) -> None:
    host, port = relay.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"POST /hooks/wordpress HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2097152\r\n\r\n{\"event\": ")
        received = b""
        while chunk := conn.recv(65536):  # relay answers, then closes, without waiting for 2 MiB
            received += chunk
        answer = received.decode("utf-8")
    assert answer.startswith("HTTP/1.1 413 "), answer
    assert PROBLEM in answer and "larger than 1048576 bytes" in answer


def test_a_body_that_is_not_declared_json_is_415(relay: RelayApp) -> None:
    response = relay.send(connector_payload(), content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415, "Content-Type: application/json")
    assert_problem(relay.send(connector_payload(), content_type=""), 415, "no Content-Type")
    assert relay.send(connector_payload(50), content_type="application/json; charset=utf-8").status_code == 202


def test_a_body_that_is_not_valid_json_is_400(relay: RelayApp) -> None:
    assert_problem(relay.send(body=b'{"event": "publish", '), 400, "not valid JSON")
    assert_problem(relay.send(body=b"\xff\xfe\x00garbage"), 400, "not")
    assert relay.count(webhook_ids) == 0


def test_json_that_is_not_a_post_event_is_422(relay: RelayApp) -> None:
    assert_problem(relay.send({"event": "publish", "post": {"id": 1}}), 422, "\"post.link\" is required")
    assert_problem(relay.send([1, 2, 3]), 422, "JSON object")
    assert relay.count(webhook_ids) == 0


def test_the_signature_is_checked_before_the_body_is_parsed(relay: RelayApp) -> None:
    assert_problem(relay.send(body=b"not json at all", signed=False), 401, "not signed")
    assert_problem(relay.send(body=b"not json", content_type="text/plain", secret="wrong"), 401, "does not match")


def test_other_errors_are_problem_json_too(relay: RelayApp) -> None:
    missing = httpx.get(relay.url + "/no/such/page")
    assert_problem(missing, 404, "/no/such/page")
    wrong_method = httpx.get(relay.url + "/hooks/wordpress")
    assert_problem(wrong_method, 405, "GET is not allowed")


def test_a_delivery_that_failed_inside_relay_is_processed_when_retried(
    relay: RelayApp, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = relay.runtime.service
    real_ingest = service.ingest_post
    calls = []

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(service, "ingest_post", failing_once)
    payload = connector_payload(60)
    failed = relay.send(payload, webhook_id="wp_blog.example_60_1_publish")
    assert_problem(failed, 500, "relay's log")
    assert "database went away" not in failed.text
    retried = relay.send(payload, webhook_id="wp_blog.example_60_1_publish")
    assert retried.status_code == 202 and retried.json()["outcome"] == "queued"
    wait_for(lambda: len(emulator.tweets()) == 1, timeout=10, what="the tweet after the retry")


def test_a_crash_between_recording_the_post_and_its_webhook_id_loses_nothing_and_doubles_nothing(
    relay: RelayApp, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after the post is recorded and before the id is: the plugin's retry of the same
    delivery is processed, finds the post already recorded, and X gets one tweet."""
    import relay.routes.hooks as hooks_route

    def dies(*_args: Any, **_kwargs: Any) -> bool:
        raise RuntimeError("killed between the two steps")

    payload = connector_payload(62)
    monkeypatch.setattr(hooks_route, "remember_webhook_id", dies)
    assert relay.send(payload, webhook_id="wp_blog.example_62_1_publish").status_code == 500
    monkeypatch.undo()
    retried = relay.send(payload, webhook_id="wp_blog.example_62_1_publish")
    assert retried.status_code == 202, retried.text
    assert retried.json()["outcome"] != "already_processed", "the retry is looked at, not dismissed"
    wait_for(lambda: len(emulator.tweets()) == 1, timeout=10, what="the one tweet")
    again = relay.send(payload, webhook_id="wp_blog.example_62_1_publish")
    assert again.status_code == 200 and again.json()["outcome"] == "already_processed"
    time.sleep(0.5)
    assert len(emulator.tweets()) == 1


def test_a_webhook_id_longer_than_255_characters_is_400(relay: RelayApp) -> None:
    assert_problem(relay.send(connector_payload(), webhook_id="x" * 256), 400, "at most 255 characters")


def test_refusals_are_logged_without_secret_or_signature(relay: RelayApp, caplog: pytest.LogCaptureFixture) -> None:
    raw = json.dumps(connector_payload()).encode()
    forged = standard_signature("whsec_" + base64.b64encode(b"forger").decode(), "wp_x", int(time.time()), raw)
    with caplog.at_level("INFO", logger="relay.webhooks"):
        relay.send(body=raw, headers={"webhook-id": "wp_x", "webhook-timestamp": str(int(time.time())),
                                      "webhook-signature": forged}, signed=False)
        relay.send(connector_payload(61))
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "webhook refused" in logged and "wordpress webhook" in logged
    for secret_part in (SECRET, SECRET.removeprefix("whsec_"), forged, forged.removeprefix("v1,")):
        assert secret_part not in logged


def test_webhook_ids_are_remembered_once_even_when_racing(database_url: str) -> None:
    """The unique index decides, on SQLite and PostgreSQL: of 8 concurrent inserts of one id, one wins."""
    engine = make_engine(database_url)
    apply_migrations(engine)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda _: remember_webhook_id(engine, "wp_race_1", now), range(8)))
        assert sorted(results) == [False] * 7 + [True]
        assert webhook_id_seen(engine, "wp_race_1") and not webhook_id_seen(engine, "wp_race_2")
        # ids older than KEEP are forgotten by the next insert
        assert remember_webhook_id(engine, "wp_later", now + KEEP + KEEP) is True
        assert remember_webhook_id(engine, "wp_race_1", now + KEEP + KEEP) is True
        with pytest.raises(ValueError):
            remember_webhook_id(engine, "x" * 256, now)
    finally:
        engine.dispose()
