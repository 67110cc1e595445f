"""Row 9: input never makes relay answer 500; each case is a 4xx in problem+json saying what to fix.

Before: a session cookie with a 400-digit timestamp, ids of 2**63 and more (``/websub/{id}``,
``/api/posts/{id}``), malformed URLs to ``/api/republish``, and signed webhooks holding JSON
1,000 deep, a malformed IPv6 URL, port 99999 or a lone surrogate each got a 500 with a 9 KB
traceback (and the WordPress plugin retries a 500 for ever).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.testing.x_emulator import EmulatorServer
from tests.test_webhook_route import RelayApp, relay_app
from tests.test_wordpress_payload import connector_payload

TOKEN = "t0k3n-for-the-no-500-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HUGE = str(2**63)


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayApp]:
    tmp_path = tmp_path_factory.mktemp("no500")
    with EmulatorServer() as emulator, relay_app(tmp_path, emulator, RELAY_API_TOKEN=TOKEN,
                                                 RELAY_SERVER_PUBLIC_URL="https://relay.example") as app:
        yield app


def _assert_client_error(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500 or response.status_code in (200, 202, 303), response.text[:500]
    if response.status_code >= 400 and response.request.url.path != "/":
        assert response.headers["content-type"].startswith("application/problem+json"), response.headers
        assert response.json()["detail"]


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/", {"cookies": {"relay_session": "1" + "0" * 400 + ".abc"}}),
    ("GET", "/", {"cookies": {"relay_session": "9" * 5000 + ".abc"}}),
    ("GET", f"/api/posts/{HUGE}", {"headers": AUTH}),
    ("GET", "/api/posts/" + "9" * 40, {"headers": AUTH}),
    ("GET", "/api/posts/-1", {"headers": AUTH}),
    ("POST", f"/api/posts/{HUGE}/republish", {"headers": AUTH}),
    ("GET", f"/websub/{HUGE}", {"params": {"hub.mode": "subscribe", "hub.challenge": "c", "hub.topic": "t"}}),
    ("GET", f"/websub/{HUGE}", {"params": {"hub.mode": "denied", "hub.topic": "t"}}),
    ("POST", f"/websub/{HUGE}", {"content": b"<feed/>"}),
    ("GET", "/api/posts", {"headers": AUTH, "params": {"limit": "9" * 40}}),
    ("GET", "/api/posts", {"headers": AUTH, "params": {"since": "9999999-99-99"}}),
] + [
    ("POST", "/api/republish", {"headers": AUTH, "json": {"url": url}})
    for url in ["http://[::1", "http://blog.example:99999/", "http://exa mple.com/", "http://" + "a" * 300 + ".com/",
                "http://éé..example/", "https://[fe80::1%25eth0]/", "http://blog.example:0/", "//blog.example/",
                "http://\udcff.example/", "", "a" * 10_000]
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "options"), REQUESTS, ids=lambda v: str(v)[:60])
def test_hostile_requests_get_a_4xx(relay: RelayApp, method: str, path: str, options: dict[str, Any]) -> None:
    if "json" in options:  # a lone surrogate cannot be UTF-8 encoded by httpx: send it escaped, as JSON allows
        options = {**options, "content": json.dumps(options.pop("json")).encode(),
                   "headers": {**options.get("headers", {}), "Content-Type": "application/json"}}
    with httpx.Client(base_url=relay.url, timeout=30) as client:
        _assert_client_error(client.request(method, path, **options))


def _deep(depth: int) -> bytes:
    return b'{"event": "publish", "post": ' + b"[" * depth + b"]" * depth + b"}"


def _payload(**post: Any) -> bytes:
    payload = connector_payload(77)
    payload["post"].update(post)
    return json.dumps(payload).encode()


SIGNED_BODIES = {
    "JSON 1,000 deep": _deep(1_000),
    "JSON 100,000 deep": _deep(100_000),
    "malformed IPv6 link": _payload(link="http://[::1/2026/post/"),
    "port 99999": _payload(link="https://blog.example:99999/2026/post/"),
    "lone surrogate in the title": _payload(title={"rendered": "Le pain \ud800"}),
    "lone surrogate in the link": _payload(link="https://blog.example/\udc80/"),
    "id 2**63": _payload(id=2**63),
    "id 10**40": _payload(id=10**40),
    "float id": _payload(id=1e308),
    "image url with bad port": _payload(featured_image={"url": "https://blog.example:99999/a.jpg", "alt": "x"}),
    "non-http link": _payload(link="javascript:alert(1)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SIGNED_BODIES))
def test_hostile_signed_webhooks_get_a_4xx_or_are_accepted(relay: RelayApp, name: str) -> None:
    response = relay.send(body=SIGNED_BODIES[name])
    _assert_client_error(response)


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
POST_FIELDS = ["id", "type", "link", "guid", "status", "date_gmt", "modified_gmt", "title", "excerpt", "content",
               "author_name", "category_names", "tag_names", "featured_image", "password_protected"]


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(POST_FIELDS), value=JSON_VALUES, event=st.sampled_from(["publish", "update", "trash"]))
def test_random_signed_payloads_never_get_a_500(relay: RelayApp, field: str, value: Any, event: str) -> None:
    payload = connector_payload(int.from_bytes(field.encode()[:4], "big"))
    payload["event"] = event
    payload["post"][field] = value
    response = relay.send(body=json.dumps(payload).encode())
    assert response.status_code < 500, response.text[:500]
