"""Row 6: a slow server never holds relay: one deadline per fetch, and no thread held while waiting.

Before: an image served at one byte a second held all publishing for 110 s, and six slow
republish calls filled the server's thread pool, so /readyz, /api/posts, /r/CODE and the
dashboard hung for 75 s while /healthz said 200.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relay.adapters.safe_fetch import SafeFetcher
from relay.errors import FetchError
from tests.feed_server import FeedServer
from tests.processes import free_port, relay_env, start_relay, wait_for

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 118
TOKEN = "t0k3n-for-the-deadline-tests-0123456789"


@pytest.fixture
def slow() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.set("/slow.png", body=PNG, content_type="image/png", trickle=1.0)  # 126 s to send it all
        server.set("/slow.html", body="<html><head><title>T</title></head>" + " " * 200, content_type="text/html",
                   trickle=1.0)
        yield server


@pytest.mark.slow
def test_an_image_sent_a_byte_a_second_is_given_up_at_the_deadline(slow: FeedServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError):
        SafeFetcher(allow_hosts=["127.0.0.1"]).fetch_image(slow.url("/slow.png"))
    assert time.monotonic() - started < 30  # the deadline is 15 s; the whole image takes 126 s


@pytest.mark.slow
def test_slow_republish_calls_hold_no_thread_of_the_server(tmp_path: Path, slow: FeedServer) -> None:
    """More slow republish calls than the server has threads; the routes that need a thread still answer."""
    port = free_port()
    config = tmp_path / "relay.toml"
    config.write_text('[fetch]\nallow_hosts = ["127.0.0.1"]\n', encoding="utf-8")
    env = relay_env(RELAY_CONFIG=str(config), RELAY_SERVER_PORT=str(port), RELAY_API_TOKEN=TOKEN,
                    RELAY_DATABASE_URL=f"sqlite:///{tmp_path / 'relay.db'}")
    process = start_relay(["serve"], env, tmp_path / "serve.log", tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ok(f"{base}/readyz"), what="relay to be ready")
        calls = min(32, (os.cpu_count() or 1) + 4) + 4  # the default thread pool's size, and more
        callers = [threading.Thread(target=_republish, args=(base, slow.url("/slow.html")), daemon=True)
                   for _ in range(calls)]
        for caller in callers:
            caller.start()
        wait_for(lambda: len(slow.requests_for("/slow.html")) >= calls, timeout=20, what="every call to be waiting")
        for path in ("/readyz", "/api/posts"):
            started = time.monotonic()
            response = httpx.get(base + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
            assert response.status_code == 200, response.text
            assert time.monotonic() - started < 3, f"{path} waited for a free thread"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _republish(base: str, page: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(f"{base}/api/republish", json={"url": page}, headers={"Authorization": f"Bearer {TOKEN}"},
                   timeout=60)
