"""The only module that builds concrete adapters from settings.

Everything else receives what it needs; tests build the same objects with their own
pieces (the emulator's URL, a temporary database) through the same function.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from relay.adapters.http_fetch import FetchLimits, make_client
from relay.adapters.x import DryRunPublisher, XCredentials, XPublisher
from relay.core.compose import ComposeOptions
from relay.polling import FeedPlan, FeedPoller
from relay.ports import Publisher
from relay.service import RelayService
from relay.settings import FeedSettings, Settings
from relay.store.engine import make_engine
from relay.store.store import Store
from relay.worker import Worker

log = logging.getLogger("relay")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    publisher: Publisher
    service: RelayService
    http: httpx.AsyncClient
    poller: FeedPoller
    worker: Worker

    async def aclose(self) -> None:
        await self.http.aclose()
        self.store.engine.dispose()


def build_publisher(settings: Settings) -> Publisher:
    """The tweepy publisher when all four credentials are set, else dry-run."""
    if settings.dry_run:
        return DryRunPublisher()
    x = settings.x
    credentials = XCredentials(
        consumer_key=x.consumer_key.get_secret_value(),
        consumer_secret=x.consumer_secret.get_secret_value(),
        access_token=x.access_token.get_secret_value(),
        access_token_secret=x.access_token_secret.get_secret_value(),
    )
    return XPublisher(credentials, api_base_url=x.api_base_url)


def compose_options(feed: FeedSettings) -> ComposeOptions:
    return ComposeOptions(
        template=feed.template,
        hashtags=feed.hashtags,
        max_hashtags=feed.max_hashtags,
        hashtag_deny=frozenset(feed.hashtag_deny),
        utm_campaign=feed.utm_campaign,
    )


def feed_plans(settings: Settings) -> list[FeedPlan]:
    return [
        FeedPlan(
            url=feed.url,
            options=compose_options(feed),
            backfill=feed.backfill,
            interval=timedelta(minutes=settings.polling.interval_minutes),
        )
        for feed in settings.feeds
    ]


def build_runtime(settings: Settings, *, publisher: Publisher | None = None) -> Runtime:
    store = Store(make_engine(settings.database.url))
    publisher = publisher or build_publisher(settings)
    service = RelayService(store, publisher)
    limits = FetchLimits()
    http = make_client(limits)
    poller = FeedPoller(
        service, feed_plans(settings), client=http, limits=limits,
        concurrency=settings.polling.concurrency, jitter=settings.polling.jitter,
    )
    worker = Worker(service, poller, now=utc_now, tick_seconds=settings.polling.publish_interval_seconds)
    return Runtime(settings, store, publisher, service, http, poller, worker)
