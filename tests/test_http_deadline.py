"""A Mastodon or Bluesky server that trickles its answer cannot hold a delivery past its lease.

A real socket server sends the status line and headers, then one byte every 0.05 s for far
longer than the deadline; the publisher must give up within the deadline plus one read.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from relay.adapters.http_deadline import DeadlineTransport, budget
from relay.adapters.mastodon import MastodonPublisher
from relay.errors import TransientPublishError


@pytest.fixture
def trickler() -> Iterator[str]:
    """``http://127.0.0.1:PORT``: answers every request with 200 and a JSON body sent a byte every 0.05 s
    (about 22 s for the whole body, while no single read waits long)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            body = b'{"id": "1", "url": "https://example.social/@a/1"}' + b" " * 400
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode())
            for byte in body:
                if stop.wait(0.05):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_a_trickled_answer_is_cut_off_at_the_deadline(trickler: str) -> None:
    with httpx.Client(transport=DeadlineTransport(deadline=1.0), timeout=httpx.Timeout(5.0)) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.get(trickler)
        # Each read comes within 0.05 s, so no step times out: only the deadline can end the 22 s answer this soon
        # (a loaded machine may stall one read past the step's 1 s, which ends it as early).
        assert time.monotonic() - started < 1.0 + 1.0 + 0.5, "the deadline plus at most one read"


def test_the_mastodon_publisher_gives_up_and_says_it_may_have_posted(trickler: str) -> None:
    publisher = MastodonPublisher(trickler, "token", timeout=httpx.Timeout(0.5),
                                  transport=DeadlineTransport(deadline=1.0))
    started = time.monotonic()
    with pytest.raises(TransientPublishError) as raised:
        publisher.publish("Bonjour https://boulangerie-martin.fr/")
    assert time.monotonic() - started < 2.0
    assert "did not answer in time" in str(raised.value) and "may still have done it" in str(raised.value)
    publisher.close()


def test_a_prompt_answer_passes_whole() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "7"}, headers={"X-RateLimit-Remaining": "299"})

    with httpx.Client(transport=DeadlineTransport(deadline=5.0, inner=httpx.MockTransport(answer))) as client:
        response = client.get("https://mastodon.example/api/v1/statuses/7")
    assert response.json() == {"id": "7"} and response.headers["x-ratelimit-remaining"] == "299"


def test_the_worst_case_stays_within_xs_deadline() -> None:
    """The lease is checked against X's deadline (timeout + 10 s): deadline + one read must not exceed it."""
    for timeout_seconds in (5.0, 30.0, 120.0):
        steps, transport = budget(timeout_seconds, 10)
        assert steps.read is not None
        assert transport.deadline + steps.read == pytest.approx(timeout_seconds + 10)
        assert steps.connect is not None and steps.connect <= steps.read
