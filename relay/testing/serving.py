"""Serving an emulator's ASGI app from a thread, on a port bound before uvicorn starts.

Each emulator (X, Mastodon, Bluesky) is a state and an app; this is the part they share:
the socket bound first (so the port is known and never raced for), TCP_NODELAY, uvicorn in a
daemon thread, a bounded wait for it to start, and a clean stop. Used as a context manager.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

STARTUP_TIMEOUT_SECONDS = 10.0


class ServedApp:
    """Subclasses give :meth:`app` and a ``label``; ``with Sub(...) as s:`` serves it at ``s.base_url``."""

    label = "the emulator"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def app(self) -> Any:
        """The ASGI app to serve."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError(f"{self.label} is not running; use it as a context manager or call start()")
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this: without it every answer waits ~40 ms on Nagle's algorithm.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self._requested_port))
        self._socket, self.port = sock, sock.getsockname()[1]
        config = uvicorn.Config(self.app(), log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        name=f"{self.label}-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.label} did not start")
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
