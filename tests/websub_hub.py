"""A small but real WebSub hub for tests, speaking HTTP on 127.0.0.1 from a thread.

It does what the W3C spec asks of a hub, so relay's subscriber is tested against the
protocol rather than against a mock of itself::

    with LocalHub() as hub:
        # a feed names hub.url in <atom:link rel="hub">; relay POSTs hub.mode=subscribe there
        hub.wait_for_subscription(topic)                 # the hub verified intent at the callback
        statuses = hub.publish(topic, new_feed_bytes)    # signed with the subscriber's hub.secret
        hub.publish(topic, body, secret="wrong")         # a forgery
        hub.deny(topic)                                  # GET hub.mode=denied to the callback

Subscription requests are answered ``202 Accepted`` at once and verified afterwards on
another thread (GET the callback with a random ``hub.challenge``; the subscription counts
only when the body echoes it), as the spec requires of hubs. ``lease_cap`` bounds the
lease the hub grants, as real hubs do. Every request and verification is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs

import httpx


@dataclass(frozen=True)
class HubSubscription:
    callback: str
    topic: str
    secret: str | None
    lease_seconds: int


@dataclass(frozen=True)
class SubscriptionRequest:
    """One ``POST`` a subscriber sent to the hub, as received."""

    mode: str
    callback: str
    topic: str
    lease_seconds: int | None
    secret: str | None
    status: int


@dataclass(frozen=True)
class Verification:
    mode: str
    callback: str
    topic: str
    status: int
    confirmed: bool


class LocalHub:
    def __init__(self, *, lease_cap: int = 864000) -> None:
        self.lease_cap = lease_cap
        self._lock = threading.Lock()
        self._subscriptions: dict[tuple[str, str], HubSubscription] = {}
        self._requests: list[SubscriptionRequest] = []
        self._verifications: list[Verification] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> LocalHub:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="LocalHub", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hub"

    # -- inspection ---------------------------------------------------------------------
    def subscriptions(self) -> list[HubSubscription]:
        with self._lock:
            return list(self._subscriptions.values())

    def requests(self) -> list[SubscriptionRequest]:
        with self._lock:
            return list(self._requests)

    def verifications(self) -> list[Verification]:
        with self._lock:
            return list(self._verifications)

    def wait_for_subscription(self, topic: str, *, count: int = 1, timeout: float = 20.0) -> HubSubscription:
        """Block until ``count`` verifications of ``topic`` succeeded; returns the subscription."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            confirmed = [v for v in self.verifications() if v.topic == topic and v.confirmed and v.mode == "subscribe"]
            current = [s for s in self.subscriptions() if s.topic == topic]
            if len(confirmed) >= count and current:
                return current[0]
            time.sleep(0.05)
        raise AssertionError(f"no verified subscription to {topic} within {timeout:.0f}s: {self.verifications()}")

    # -- acting as the hub --------------------------------------------------------------
    def publish(self, topic: str, body: bytes, *, content_type: str = "application/atom+xml",
                algorithm: str = "sha256", secret: str | None = None, signed: bool = True) -> list[int]:
        """Distribute ``body`` to every subscriber of ``topic``; returns their HTTP statuses.

        ``secret`` replaces the subscriber's own (a forgery); ``signed=False`` sends no signature.
        A subscriber answering 410 is dropped, as the spec says.
        """
        statuses = []
        for sub in [s for s in self.subscriptions() if s.topic == topic]:
            headers = {"Content-Type": content_type, "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"'}
            key = secret if secret is not None else sub.secret
            if signed and key is not None:
                digest = hmac.new(key.encode(), body, getattr(hashlib, algorithm)).hexdigest()
                headers["X-Hub-Signature"] = f"{algorithm}={digest}"
            response = httpx.post(sub.callback, content=body, headers=headers, timeout=30)
            if response.status_code == 410:
                with self._lock:
                    self._subscriptions.pop((sub.callback, sub.topic), None)
            statuses.append(response.status_code)
        return statuses

    def deny(self, topic: str, reason: str = "not allowed") -> list[int]:
        """Revoke every subscription of ``topic`` and tell the subscribers (hub.mode=denied)."""
        statuses = []
        for sub in [s for s in self.subscriptions() if s.topic == topic]:
            with self._lock:
                self._subscriptions.pop((sub.callback, sub.topic), None)
            params = {"hub.mode": "denied", "hub.topic": topic, "hub.reason": reason}
            statuses.append(httpx.get(sub.callback, params=params, timeout=10).status_code)
        return statuses

    def verify(self, mode: str, callback: str, topic: str, lease_seconds: int | None = None) -> Verification:
        """Ask ``callback`` to confirm intent; a hub does this for every request, tests may do it by hand."""
        challenge = secrets.token_urlsafe(24)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if lease_seconds is not None:
            params["hub.lease_seconds"] = str(lease_seconds)
        try:
            response = httpx.get(callback, params=params, timeout=10)
            status, text = response.status_code, response.text
        except httpx.HTTPError:
            status, text = 0, ""
        result = Verification(mode, callback, topic, status, 200 <= status < 300 and text == challenge)
        with self._lock:
            self._verifications.append(result)
        return result

    # -- used by the handler ------------------------------------------------------------
    def _receive(self, form: dict[str, str]) -> int:
        mode, callback, topic = form.get("hub.mode", ""), form.get("hub.callback", ""), form.get("hub.topic", "")
        secret = form.get("hub.secret")
        lease_text = form.get("hub.lease_seconds", "")
        lease = int(lease_text) if lease_text.isdigit() else None
        valid = mode in ("subscribe", "unsubscribe") and callback.startswith("http") and topic.startswith("http")
        status = 202 if valid and (secret is None or len(secret.encode()) < 200) else 400
        with self._lock:
            self._requests.append(SubscriptionRequest(mode, callback, topic, lease, secret, status))
        if status == 202:
            threading.Thread(target=self._verify_later, args=(mode, callback, topic, secret, lease),
                             daemon=True).start()
        return status

    def _verify_later(self, mode: str, callback: str, topic: str, secret: str | None, lease: int | None) -> None:
        granted = min(lease or self.lease_cap, self.lease_cap)
        result = self.verify(mode, callback, topic, granted if mode == "subscribe" else None)
        if not result.confirmed:
            return
        with self._lock:
            if mode == "subscribe":
                self._subscriptions[(callback, topic)] = HubSubscription(callback, topic, secret, granted)
            else:
                self._subscriptions.pop((callback, topic), None)


def _handler(hub: LocalHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            form = {name: values[0] for name, values in parse_qs(raw, keep_blank_values=True).items()}
            if self.path != "/hub" or not self.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"):
                status = 400
            else:
                status = hub._receive(form)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
