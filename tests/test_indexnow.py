"""IndexNow pings, received by a real local endpoint: the JSON, the grouping, the silence on failure."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from relay.adapters.indexnow import indexnow_hook, ping_indexnow
from relay.config.settings import Settings
from relay.store.engine import apply_migrations
from relay.wiring import build_runtime
from tests.feed_server import FeedServer
from tests.feeds import rss_feed

KEY = "5f0c1e2d-indexnow-key-SECRET-42"


@dataclass(frozen=True)
class Ping:
    path: str
    content_type: str
    payload: dict[str, object]


class Endpoint:
    """An IndexNow endpoint on 127.0.0.1 that records every POST and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.pings: list[Ping] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.pings.append(Ping(self.path, self.headers.get("Content-Type", ""), json.loads(body)))
                self.send_response(endpoint.status)
                self.send_header("Content-Length", str(len(KEY)))
                self.end_headers()
                self.wfile.write(KEY.encode())  # an answer that echoes the key must not reach the log either

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/indexnow"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.close()


def ping(endpoint_url: str, urls: list[str], key: str = KEY) -> dict[str, int | None]:
    async def go() -> dict[str, int | None]:
        async with httpx.AsyncClient() as client:
            return await ping_indexnow(client, endpoint=endpoint_url, key=key, urls=urls)

    return asyncio.run(go())


def test_one_json_post_per_site(endpoint: Endpoint) -> None:
    urls = [
        "https://blog.example/2026/11/pain/",
        "https://shop.example:8443/levain",
        "https://blog.example/2026/11/brioche/",
        "https://blog.example/2026/11/pain/",  # twice: sent once
        "mailto:someone@example.org",  # not a page: skipped
    ]
    assert ping(endpoint.url, urls) == {"blog.example": 200, "shop.example": 200}
    assert [p.path for p in endpoint.pings] == ["/indexnow", "/indexnow"]
    assert all(p.content_type == "application/json; charset=utf-8" for p in endpoint.pings)
    assert [p.payload for p in endpoint.pings] == [
        {"host": "blog.example", "key": KEY, "keyLocation": f"https://blog.example/{KEY}.txt",
         "urlList": ["https://blog.example/2026/11/pain/", "https://blog.example/2026/11/brioche/"]},
        {"host": "shop.example", "key": KEY, "keyLocation": f"https://shop.example:8443/{KEY}.txt",
         "urlList": ["https://shop.example:8443/levain"]},
    ]


def test_failures_are_logged_never_raised_and_never_show_the_key(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint.status = 403
    assert ping(endpoint.url, ["https://blog.example/a"]) == {"blog.example": 403}
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/indexnow"
    assert ping(nowhere, ["https://blog.example/a"]) == {"blog.example": None}
    refused = [r for r in caplog.records if r.name == "relay.indexnow"]
    assert [r.getMessage() for r in refused] == ["indexnow ping refused", "indexnow ping failed: endpoint unreachable"]
    dumped = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert KEY not in dumped


def test_no_key_no_hook_and_a_malformed_key_turns_it_off(caplog: pytest.LogCaptureFixture) -> None:
    client = httpx.AsyncClient()
    assert indexnow_hook(client, endpoint="https://api.indexnow.org/indexnow", key="") is None
    assert indexnow_hook(client, endpoint="https://api.indexnow.org/indexnow", key="short") is None
    assert "indexnow is off" in caplog.text and "short" not in caplog.text
    assert indexnow_hook(client, endpoint="https://api.indexnow.org/indexnow", key=KEY) is not None


def _poll_once(tmp_path: Path, feed_url: str, indexnow: dict[str, str]) -> None:
    """One ``relay poll --once`` round, with the IndexNow hook wired as wiring.py does."""
    tmp_path.mkdir()
    settings = Settings.model_validate({
        "database": {"url": f"sqlite:///{tmp_path / 'relay.db'}"},
        "polling": {"fetch_pages": False},
        "fetch": {"images": False},
        "indexnow": indexnow,
        "feeds": [{"url": feed_url, "backfill": 2}],
    })
    runtime = build_runtime(settings)
    apply_migrations(runtime.store.engine)
    runtime.poller.on_new_posts = indexnow_hook(
        runtime.http, endpoint=settings.indexnow.endpoint, key=settings.indexnow.key.get_secret_value()
    )

    async def go() -> None:
        try:
            await runtime.worker.run_once()
        finally:
            await runtime.aclose()

    asyncio.run(go())


def test_queued_posts_are_pinged_and_nothing_without_a_key(tmp_path: Path, endpoint: Endpoint) -> None:
    with FeedServer() as feeds:
        feeds.set("/feed/", rss_feed(range(1, 6)))
        _poll_once(tmp_path / "on", feeds.url("/feed/"), {"key": KEY, "endpoint": endpoint.url})
        assert [p.payload["urlList"] for p in endpoint.pings] == [[
            "https://boulangerie.example/2026/11/recette-4/", "https://boulangerie.example/2026/11/recette-5/",
        ]], "the two backfilled posts queued for tweeting; the three remembered ones are not pinged"

        endpoint.pings.clear()
        _poll_once(tmp_path / "off", feeds.url("/feed/"), {"endpoint": endpoint.url})
        assert endpoint.pings == []
