"""A real HTTP server for tests: feeds, conditional GET, redirects, errors and hostile servers.

It runs ``http.server.ThreadingHTTPServer`` on a free port of 127.0.0.1 in a thread, so the
code under test goes through real sockets, real HTTP parsing and real gzip; no mocks::

    with FeedServer() as server:
        server.set("/feed.xml", body=rss, etag=True, last_modified="Wed, 01 Jan 2025 00:00:00 GMT")
        server.redirect("/old", "/feed.xml", status=301)
        server.set("/slow", body=rss, trickle=1.0)      # one byte per second
        server.set("/huge", endless=True)               # never stops sending
        url = server.url("/feed.xml")
        ...
        assert server.requests[-1].headers["if-none-match"] == server.etag_for("/feed.xml")

Routes can be changed while the server runs (``set`` again); ``requests`` logs every
request received, in order, with lower-cased header names.
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Route:
    """What the server answers on one path."""

    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    trickle: float | None = None
    """Seconds to wait between bytes of the body (a server that drips)."""
    endless: bool = False
    """Send data until the client hangs up (a body with no end)."""
    gate: threading.Event | None = None
    """Answer only once this is set (a feed the test holds in flight)."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]


class FeedServer:
    """A configurable local HTTP server; use it as a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._routes: dict[str, Route] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _QuietServer((host, 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.in_flight = 0
        self.peak_in_flight = 0
        """The most requests this server was answering at one moment."""

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FeedServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="FeedServer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # ends trickling and endless bodies still being sent
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- configuration -----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def set(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/rss+xml; charset=utf-8",
        etag: bool | str = False,
        last_modified: str | None = None,
        max_age: int | None = None,
        retry_after: int | str | None = None,
        gzip: bool = False,
        trickle: float | None = None,
        endless: bool = False,
        gate: threading.Event | None = None,
    ) -> Route:
        """Configure ``path``. ``etag=True`` derives a strong ETag from the body.

        With ``etag`` or ``last_modified`` set, a matching ``If-None-Match`` or
        ``If-Modified-Since`` gets ``304 Not Modified`` and no body.
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        extra = dict(headers or {})
        for name in [n for n in extra if n.lower() == "content-type"]:
            content_type = extra.pop(name)  # one Content-Type header, whichever way it was given
        if max_age is not None:
            extra["Cache-Control"] = f"max-age={max_age}"
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        route = Route(
            body=data,
            status=status,
            headers=extra,
            content_type=content_type,
            etag=f'"{hashlib.sha256(data).hexdigest()[:16]}"' if etag is True else (etag or None),
            last_modified=last_modified,
            gzip=gzip,
            trickle=trickle,
            endless=endless,
            gate=gate,
        )
        with self._lock:
            self._routes[path] = route
        return route

    def redirect(self, path: str, to: str, *, status: int = 301) -> Route:
        """``path`` answers ``status`` with ``Location: to`` (a path or a full URL)."""
        return self.set(path, status=status, headers={"Location": to}, content_type="text/plain")

    def etag_for(self, path: str) -> str | None:
        with self._lock:
            return self._routes[path].etag

    # -- inspection --------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- used by the handler -----------------------------------------------------------
    def _record(self, request: RecordedRequest) -> Route | None:
        with self._lock:
            self._requests.append(request)
            return self._routes.get(request.path.split("?", 1)[0]) or self._routes.get(request.path)


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-answer are what several tests are about: not worth a traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _handler_class(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def _answer(self, *, send_body: bool) -> None:
            server._enter()
            try:
                self._answer_counted(send_body=send_body)
            finally:
                server._leave()

        def _answer_counted(self, *, send_body: bool) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            route = server._record(RecordedRequest(self.command, self.path, headers))
            if route is None:
                self._send_simple(404, b"no route configured for this path")
                return
            if route.gate is not None:
                route.gate.wait(timeout=60)
            if route.status == 200 and _not_modified(route, headers):
                self.send_response(304)
                self._send_validators(route)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = gzip_module.compress(route.body) if route.gzip else route.body
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self._send_validators(route)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.gzip:
                self.send_header("Content-Encoding", "gzip")
            if route.endless:
                self.send_header("Connection", "close")
                self.end_headers()
                if send_body:
                    self._send_endless()
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self._send_body(body, route.trickle)

        def _send_validators(self, route: Route) -> None:
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)

        def _send_body(self, body: bytes, trickle: float | None) -> None:
            try:
                if trickle is None:
                    self.wfile.write(body)
                    return
                for index in range(len(body)):
                    if server._stopping.wait(trickle):
                        return
                    self.wfile.write(body[index : index + 1])
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, which is what these tests expect

        def _send_endless(self) -> None:
            chunk = b"<item><title>again</title></item>\n" * 2048
            deadline = time.monotonic() + 60  # a safety net if a client never hangs up
            self.close_connection = True
            try:
                while not server._stopping.is_set() and time.monotonic() < deadline:
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _send_simple(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _not_modified(route: Route, headers: Mapping[str, str]) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since when both are sent."""
    if route.etag and "if-none-match" in headers:
        tags = [tag.strip() for tag in headers["if-none-match"].split(",")]
        return route.etag in tags or "*" in tags
    if route.last_modified and "if-modified-since" in headers:
        try:
            since = parsedate_to_datetime(headers["if-modified-since"])
            modified = parsedate_to_datetime(route.last_modified)
        except (TypeError, ValueError, IndexError):
            return headers["if-modified-since"] == route.last_modified
        return modified <= since
    return False
