"""The Mastodon emulator served by uvicorn on a background thread, for tests in the same process.

As :mod:`relay.testing.x_emulator_server` does for X: the socket is bound here on port 0 before
uvicorn starts, so the port is known and nothing can take it in between; tests drive the emulator
over real HTTP and read or script it through the methods here, which go to the shared, locked state.
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

from relay.testing.mastodon_emulator_app import create_app
from relay.testing.mastodon_emulator_state import (
    Fault,
    MastodonEmulatorConfig,
    MastodonEmulatorState,
    StoredMedia,
    StoredStatus,
)

STARTUP_TIMEOUT_SECONDS = 10.0


class MastodonEmulatorServer:
    """``with MastodonEmulatorServer(max_characters=1000) as m: ...`` runs an instance at ``m.base_url``.

    Keyword arguments override fields of :class:`MastodonEmulatorConfig`.
    """

    def __init__(self, config: MastodonEmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time, **overrides: Any) -> None:
        self.state = MastodonEmulatorState(replace(config or MastodonEmulatorConfig(), **overrides), clock=clock)
        self.host = host
        self._requested_port = port
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("the Mastodon emulator is not running; use it as a context manager or call start()")
        return f"http://{self.host}:{self.port}"

    @property
    def access_token(self) -> str:
        return self.state.config.access_token

    def start(self) -> MastodonEmulatorServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self._requested_port))
        self._socket, self.port = sock, sock.getsockname()[1]
        config = uvicorn.Config(create_app(self.state), log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        name=f"mastodon-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Mastodon emulator did not start")
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

    def __enter__(self) -> MastodonEmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- direct access for tests ---------------------------------------------------------------

    def statuses(self) -> list[StoredStatus]:
        """Every status the instance holds, oldest first."""
        return self.state.statuses()

    @property
    def posts_created(self) -> int:
        """Statuses really created through the API (idempotent replays not counted)."""
        return self.state.posts_created

    @property
    def idempotent_replays(self) -> int:
        return self.state.idempotent_replays

    def media(self) -> list[StoredMedia]:
        return self.state.media()

    def requests(self) -> list[dict[str, object]]:
        """Method, path, query, status, fault and Idempotency-Key of every request, in order."""
        return self.state.requests()

    def inject(self, path: str = "/api/v1/statuses", *, method: str = "POST", status: int | None = 503,
               times: int = 1, delay: float = 0.0, accept_then_fail: bool = False) -> None:
        """Queue a fault for the next ``times`` requests to ``method path`` (see :class:`Fault`)."""
        self.state.add_fault(Fault(method, path, status, times, delay, accept_then_fail))

    def exhaust_rate_limit(self, bucket: str = "account") -> None:
        self.state.exhaust(bucket)

    def seed_status(self, text: str, created_at: datetime | None = None) -> StoredStatus:
        """A status the account posted earlier, not through the API under test."""
        return self.state.create_status(text, created_at=created_at.timestamp() if created_at else None)

    def set_counts(self, status_id: str, *, favourites: int = 0, reblogs: int = 0, replies: int = 0) -> None:
        self.state.set_counts(status_id, favourites=favourites, reblogs=reblogs, replies=replies)

    def reset(self) -> None:
        self.state.reset()
