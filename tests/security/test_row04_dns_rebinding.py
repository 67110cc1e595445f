"""Row 4: relay connects to the address it checked, never to a second resolution (DNS rebinding).

A rebinding name answers a public address when relay checks it and 127.0.0.1 when relay
connects. Before, the guard resolved to check and httpx resolved again to connect, so
the request reached this machine (pages, images, republish by address and WebSub hubs).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from relay.adapters.safe_fetch import SafeFetcher
from relay.errors import FetchError
from relay.store import websub_store as db
from relay.store.engine import apply_migrations, make_engine
from relay.store.store import Store
from relay.websub.subscriber import WebSubSubscriber
from tests.feed_server import FeedServer

REBINDING_NAME = "rebind.relay-test.example"
PUBLIC_ADDRESS = "192.0.2.1"
"""What the name answers first. TEST-NET-1 is not public, so the test swaps in a public-looking
answer through ``PUBLIC_CHECK``; what matters is that nothing reaches 127.0.0.1."""


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.set("/secret", body="<html><head><title>SECRET</title></head></html>", content_type="text/html")
        server.set("/hub", body="", status=202, content_type="text/plain")
        yield server


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name resolves to a public address once, then to 127.0.0.1 (every later lookup)."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != REBINDING_NAME:
            return real(host, port, *args, **kwargs)
        address = "8.8.8.8" if not answers else "127.0.0.1"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 80)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_a_page_on_a_rebinding_name_is_never_fetched_from_loopback(
    internal: FeedServer, rebinding_dns: list[str]
) -> None:
    url = f"http://{REBINDING_NAME}:{internal.url('/').rsplit(':', 1)[1].rstrip('/')}/secret"
    with pytest.raises(FetchError):
        SafeFetcher(deadline=3).fetch_page(url)  # connects to the checked public address, which does not answer
    assert internal.requests_for("/secret") == []
    assert rebinding_dns == ["8.8.8.8"], "the name was resolved once, for the check, and never again"


def test_a_websub_hub_on_a_rebinding_name_is_never_posted_to_on_loopback(
    tmp_path: Path, internal: FeedServer, rebinding_dns: list[str]
) -> None:
    store = Store(make_engine(f"sqlite:///{tmp_path / 'relay.db'}"))
    apply_migrations(store.engine)
    feed_url = "https://blog.example/feed/"
    store.sync_feeds([feed_url], datetime.now(UTC))
    import httpx

    port = internal.url("/").rsplit(":", 1)[1].rstrip("/")

    async def scenario() -> bool:
        async with httpx.AsyncClient() as client:
            subscriber = WebSubSubscriber(store.engine, client, public_url="https://relay.example", lease_seconds=86400,
                                          now=lambda: datetime.now(UTC), configured_urls=[feed_url])
            subscriber.guarded.deadline = 3
            return await subscriber.subscribe(1, f"http://{REBINDING_NAME}:{port}/hub", feed_url)

    assert asyncio.run(scenario()) is False
    assert internal.requests_for("/hub") == []
    row = db.get_subscription(store.engine, 1)
    assert row is not None and "could not reach the hub" in (row.last_error or "")
