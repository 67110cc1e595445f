"""The emulator served by uvicorn on a background thread, for tests in the same process.

The socket is bound by this class on port 0 before uvicorn starts, so the port is known and no
other process can take it in between (a "find a free port, then bind" dance would race). Tests
drive the emulator through its real HTTP interface and read or script it through the methods
here, which go straight to the shared, locked state.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any

import uvicorn

from relay.testing.x_emulator_app import create_app
from relay.testing.x_emulator_state import (
    Charge,
    EmulatorConfig,
    EmulatorState,
    Fault,
    StoredMedia,
    StoredTweet,
)

STARTUP_TIMEOUT_SECONDS = 10.0


class EmulatorServer:
    """``with EmulatorServer(credits=3) as x: ...`` runs an X emulator at ``x.base_url``.

    Keyword arguments override fields of :class:`EmulatorConfig` (``keys=``, ``credits=``,
    ``tweet_rate_limit=`` ...).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        **overrides: Any,
    ) -> None:
        self.state = EmulatorState(replace(config or EmulatorConfig(), **overrides), clock=clock)
        self.host = host
        self._requested_port = port
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("the emulator is not running; use it as a context manager or call start()")
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this: without it every answer waits ~40 ms on Nagle's algorithm.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self._requested_port))
        self._socket, self.port = sock, sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"x-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the X emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.port = 0

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- direct access for tests ---------------------------------------------------------------

    def tweets(self) -> list[StoredTweet]:
        """Every tweet the emulator accepted (or was seeded with), oldest first."""
        return self.state.tweets()

    def inject(
        self,
        path: str = "/2/tweets",
        *,
        method: str = "POST",
        status: int | None = None,
        times: int = 1,
        reset_in: int = 900,
        delay: float = 0.0,
        accept_then_fail: bool = False,
        detail: str | None = None,
        answer_late: bool = False,
        refusal: str | None = None,
    ) -> None:
        """Queue a fault for the next ``times`` requests to ``method path`` (see :class:`Fault`).

        ``delay`` alone: X takes that long before it even handles the request. ``answer_late=True``:
        X handles it at once and answers ``delay`` seconds later (the post exists while the client
        waits). ``refusal="cashtags"`` (or ``reply_restricted``, ``not_permitted``, ``duplicate``):
        X's 403 for that one post.
        """
        self.state.add_fault(
            Fault(method, path, status, times, reset_in, delay, accept_then_fail, detail, answer_late, refusal)
        )

    def reset(self) -> None:
        self.state.reset()

    def set_credits(self, remaining: int | None) -> None:
        self.state.set_credits(remaining)

    def credits_left(self) -> int | None:
        """The pay-per-use balance in credits of $0.001 (None: unlimited)."""
        return self.state.credits()

    def set_metrics(
        self, tweet_id: str, public: dict[str, int] | None = None, non_public: dict[str, int] | None = None
    ) -> None:
        if not self.state.set_metrics(tweet_id, public or {}, non_public or {}):
            raise KeyError(tweet_id)

    def seed_tweet(self, text: str, created_at: datetime | None = None, *, kind: str = "post") -> StoredTweet:
        """A tweet the account posted earlier (not through the API under test); costs no credit.

        ``kind`` ``"reply"`` or ``"retweet"`` makes one that the timeline's ``exclude`` leaves out.
        """
        moment = created_at.timestamp() if created_at else self.state.clock()
        return self.state.create_tweet(text, (), created_at=moment, check_duplicate=False, kind=kind)

    def set_timeline_delay(self, seconds: float) -> None:
        """New posts show in GET /2/users/:id/tweets only ``seconds`` after X accepted them."""
        self.state.set_timeline_delay(seconds)

    def set_unwound(self, url: str, unwound_url: str | None, status: int = 200) -> None:
        """Where X finds ``url`` to lead (for posts made from now on); None: X could not fetch it."""
        self.state.set_unwound(url, unwound_url, status)

    def charges(self) -> list[Charge]:
        """Every billed call, oldest first, with the credits ($0.001 each) it cost."""
        return self.state.charges()

    def media(self) -> list[StoredMedia]:
        return self.state.media()

    def requests(self) -> list[dict[str, object]]:
        """Method, path, query, status and auth scheme of every X request received, in order."""
        return self.state.requests()
