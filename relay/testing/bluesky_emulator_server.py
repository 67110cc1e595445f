"""The Bluesky emulator served by uvicorn on a background thread, for tests in the same process.

As for X's (:mod:`relay.testing.x_emulator_server`): the socket is bound here on port 0 before
uvicorn starts, so the port is known and nothing can take it in between; tests drive the emulator
over HTTP and read or script it through :attr:`state`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Any

import uvicorn

from relay.testing.bluesky_emulator import BlueskyEmulatorState, EmulatorConfig, create_app

STARTUP_TIMEOUT_SECONDS = 10.0


class BlueskyEmulatorServer:
    """``with BlueskyEmulatorServer(clock=fake) as pds: ...`` runs a PDS emulator at ``pds.base_url``.

    Keyword arguments override fields of :class:`EmulatorConfig`.
    """

    def __init__(self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1",
                 clock: Callable[[], float] = time.time, **overrides: Any) -> None:
        self.state = BlueskyEmulatorState(replace(config or EmulatorConfig(), **overrides), clock=clock)
        self.host = host
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("the Bluesky emulator is not running; use it as a context manager or call start()")
        return f"http://{self.host}:{self.port}"

    def start(self) -> BlueskyEmulatorServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, 0))
        self._socket, self.port = sock, sock.getsockname()[1]
        config = uvicorn.Config(create_app(self.state), log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        name=f"bluesky-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Bluesky emulator did not start")
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

    def __enter__(self) -> BlueskyEmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
