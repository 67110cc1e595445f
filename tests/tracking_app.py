"""Helpers for the links, clicks, reports and dashboard tests.

The app is assembled the way ``relay.routes.app.create_app`` assembles it (runtime and tracking on
``app.state``, problem handlers, the three routers, the click writer started and stopped by
the lifespan), over a real migrated database. ``AppServer`` runs it under a real uvicorn on a
port bound beforehand, so tests talk HTTP to it and can shut it down gracefully.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from relay.adapters.x import DryRunPublisher
from relay.config.settings import Settings
from relay.core.models import Post, Tweet
from relay.core.ports import Publisher
from relay.metrics.tracking import Tracking
from relay.pipeline.service import RelayService
from relay.routes import api, dashboard, redirect
from relay.routes.problems import install_problem_handlers
from relay.store.engine import apply_migrations, make_engine
from relay.store.links import create_tracked_link
from relay.store.rows import Message, NewPost
from relay.store.store import Store

TOKEN = "test-token-7f3a"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class StubWorker:
    """The worker's clock and wake-up call, which the dashboard uses; nothing runs."""

    def __init__(self) -> None:
        self.woken = 0
        self.clock: datetime | None = None
        """A fixed time, or None for the real clock."""

    def now(self) -> datetime:
        return self.clock or datetime.now(UTC)

    def wake(self) -> None:
        self.woken += 1


@dataclass
class StubRuntime:
    """The parts of :class:`relay.wiring.Runtime` the metrics code and the dashboard use."""

    settings: Settings
    store: Store
    publisher: Publisher
    service: RelayService = field(init=False)
    worker: StubWorker = field(default_factory=StubWorker)

    def __post_init__(self) -> None:
        self.service = RelayService(self.store, self.publisher)


def migrated_engine(url: str) -> Engine:
    engine = make_engine(url)
    apply_migrations(engine)
    return engine


def make_runtime(url: str, *, token: str = TOKEN, publisher: Publisher | None = None, **settings: Any) -> StubRuntime:
    values: dict[str, Any] = {"api": {"token": token}, "database": {"url": url}, **settings}
    parsed = Settings.model_validate(values)
    store = Store(migrated_engine(url), review=parsed.publishing.review)
    return StubRuntime(parsed, store, publisher or DryRunPublisher())


def build_app(runtime: StubRuntime, *, flush_interval: float = 0.05, batch_size: int = 256,
              fast_redirects: bool = True) -> FastAPI:
    tracking = Tracking.for_runtime(runtime, batch_size=batch_size, flush_interval=flush_interval)  # type: ignore[arg-type]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await tracking.start()
        try:
            yield
        finally:
            await tracking.stop()

    app = FastAPI(lifespan=lifespan)
    app.state.runtime = runtime
    app.state.tracking = tracking
    install_problem_handlers(app)
    if fast_redirects:  # as create_app does
        app.add_middleware(redirect.RedirectFastPath, tracking=tracking)
    app.include_router(redirect.router)
    app.include_router(api.router)
    app.include_router(dashboard.router)
    return app


def seed_post(
    runtime: StubRuntime,
    n: int,
    *,
    title: str | None = None,
    variants: int = 1,
    sent: bool = True,
    tweet_ids: list[str] | None = None,
    sent_at: datetime = NOW,
    dry_run: bool = False,
) -> tuple[int, list[str]]:
    """A post with ``variants`` tweets, each carrying a tracked link; returns (post id, codes)."""
    store = runtime.store
    url = f"https://blog.example/2026/11/post-{n}/"
    post = Post(url=url, title=title or f"Post {n}", guid=f"g{n}")
    tagged = f"{url}?utm_source=twitter&utm_medium=social&utm_campaign=post-{n}"
    tweet = Tweet(text=f"Post {n} {tagged}", link=tagged, weighted_length=40)
    item = NewPost(post, f"guid:blog.example:g{n}", url, "feed", (Message("default", tweet),))
    store.record_posts(None, [item], sent_at)
    found = store.find_post(f"guid:blog.example:g{n}", url)
    assert found is not None
    post_id = found[0]
    for variant in range(1, variants):
        store.add_variant(post_id, Tweet(text=f"Post {n} v{variant} {tagged}", link=tagged, weighted_length=40),
                          sent_at)
    codes = []
    with store.engine.begin() as conn:
        for variant in range(variants):
            target = f"{tagged}&utm_content=v{variant}"
            codes.append(create_tracked_link(conn, post_id=post_id, delivery_variant=variant, target_url=target,
                                             now=sent_at))
    if sent:
        deliveries = [d for d in store.list_deliveries() if d.post_id == post_id]
        for d in sorted(deliveries, key=lambda d: d.variant):
            tweet_id = tweet_ids[d.variant] if tweet_ids else str(1_900_000_000_000_000_000 + post_id * 10 + d.variant)
            store.finish_delivery(d.id, status="sent", now=sent_at, outcome="dry_run" if dry_run else "sent",
                                  tweet_id=tweet_id, dry_run=dry_run, cost_usd=0.0 if dry_run else 0.2)
    return post_id, codes


class AppServer:
    """``with AppServer(app) as server:`` serves ``app`` at ``server.base_url`` with real uvicorn."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AppServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket, self.port = sock, sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=10)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the app did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Graceful shutdown: stop accepting, finish requests, run the lifespan's shutdown."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
            assert not self._thread.is_alive(), "uvicorn did not shut down"
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __exit__(self, *exc: object) -> None:
        self.stop()


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
