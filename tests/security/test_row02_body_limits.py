"""Row 2: no body is read past its route's limit, before any parsing or authentication.

Before: a 512 MB ``POST /login`` raised relay from 111 MB to 1.16 GB, and 512 MB to
``/api/republish`` without a token peaked at 2.2 GB before the 401.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, relay_env, start_relay, wait_for

TOKEN = "t0k3n-for-the-body-limit-tests-0123456789"
SENT = 128 * 1024 * 1024
"""What each hostile request sends: old relay held all of it (and more, as copies)."""
MAX_GROWTH = 40 * 1024 * 1024
"""How much relay's peak memory may grow over the test: a quarter of one hostile body."""


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """A running ``relay serve`` (dry-run, no feed): its port and process id."""
    tmp_path = tmp_path_factory.mktemp("limits")
    port = free_port()
    env = relay_env(RELAY_SERVER_PORT=str(port), RELAY_API_TOKEN=TOKEN, RELAY_WORDPRESS_SECRET="x" * 32,
                    RELAY_DATABASE_URL=f"sqlite:///{tmp_path / 'relay.db'}")
    process = start_relay(["serve"], env, tmp_path / "serve.log", tmp_path)
    try:
        wait_for(lambda: _answers(port), what="relay serve to answer")
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    pytest.skip("this system has no /proc/<pid>/status VmHWM line to read peak memory from")
    return 0


def _raw_request(port: int, head: str, body_chunks: Iterable[bytes] = ()) -> bytes:
    """Send ``head`` then ``body_chunks`` (ignoring a server that hangs up), and return its answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server stopped reading: that is the point
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
        return answer


def _chunked(total: int, size: int = 1024 * 1024) -> Iterator[bytes]:
    block = b"a" * size
    for _ in range(total // size):
        yield f"{size:x}\r\n".encode() + block + b"\r\n"
    yield b"0\r\n\r\n"


ROUTES = [
    ("POST", "/login", "application/x-www-form-urlencoded", ""),
    ("POST", "/api/republish", "application/json", ""),
    ("POST", "/api/republish", "application/json", f"Authorization: Bearer {TOKEN}\r\n"),
    ("POST", "/hooks/wordpress", "application/json", ""),
    ("POST", "/websub/1", "application/atom+xml", ""),
    ("POST", "/logout", "text/plain", ""),
]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "content_type", "extra"), ROUTES)
def test_a_declared_oversized_body_is_refused_before_it_is_sent(
    relay: tuple[int, int], method: str, path: str, content_type: str, extra: str
) -> None:
    port, _pid = relay
    head = (f"{method} {path} HTTP/1.1\r\nHost: relay\r\nContent-Type: {content_type}\r\n{extra}"
            f"Content-Length: {SENT}\r\n\r\n")
    started = time.monotonic()
    answer = _raw_request(port, head)  # the body is never sent: relay must answer without it
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 5
    headers, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/problem+json" in headers.lower()
    problem = json.loads(body)
    assert problem["status"] == 413 and "smaller" in problem["detail"]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "content_type", "extra"), ROUTES)
def test_a_chunked_oversized_body_is_cut_off_and_memory_stays_flat(
    relay: tuple[int, int], method: str, path: str, content_type: str, extra: str
) -> None:
    port, pid = relay
    before = _peak_rss(pid)
    head = (f"{method} {path} HTTP/1.1\r\nHost: relay\r\nContent-Type: {content_type}\r\n{extra}"
            "Transfer-Encoding: chunked\r\n\r\n")
    answer = _raw_request(port, head, _chunked(SENT))
    status = answer.split(b" ", 2)[1] if answer else b""
    assert status in (b"", b"413", b"410", b"303"), answer[:300]  # /websub/1: no subscription; /logout reads nothing
    assert _peak_rss(pid) - before < MAX_GROWTH
    assert _answers(port)
