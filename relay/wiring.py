"""The only module that builds concrete adapters from settings.

Everything else receives what it needs; tests build the same objects with their own
pieces (the emulator's URL, a temporary database) through the same function.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from relay.adapters.dry_run import DryRunPublisher
from relay.adapters.http_deadline import budget
from relay.adapters.http_fetch import FeedClient, FetchLimits, make_client
from relay.adapters.indexnow import indexnow_hook
from relay.adapters.safe_fetch import SafeFetcher
from relay.config.settings import (
    X_DEADLINE_BEYOND_TIMEOUT,
    AccountSettings,
    FeedSettings,
    PublishingSettings,
    Settings,
    WordPressSettings,
    XSettings,
    parse_quiet_hours,
)
from relay.core.compose import ComposeOptions
from relay.core.flood import FloodRules
from relay.core.mastodon_text import MastodonLimits
from relay.core.networks import MastodonComposer, Target, compose_for_x, composer_for
from relay.core.policy import Caps, XPrices
from relay.core.ports import Publisher
from relay.errors import RelayError
from relay.metrics.engagement import refresh_engagement
from relay.pipeline.enrichment import PageEnricher
from relay.pipeline.parsing import FeedParsers, processes_for
from relay.pipeline.polling import FeedPlan, FeedPoller
from relay.pipeline.service import RelayService
from relay.pipeline.worker import Worker
from relay.store.costs import record_charge
from relay.store.engine import make_engine
from relay.store.outbox import DEFAULT_ACCOUNT
from relay.store.store import Store
from relay.websub.subscriber import WebSubSubscriber, build_subscriber

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
    websub: WebSubSubscriber | None = None

    def republish_templates(self, post_id: int) -> tuple[str, ...]:
        """The alternates of the post's feed, or the [wordpress] ones for pushed posts."""
        feed_id = self.store.feed_id_of(post_id)
        if feed_id is not None:
            url = self.store.configured_url_of(feed_id)
            for feed in self.settings.feeds:
                if feed.url == url:
                    return feed.republish_templates
        return self.settings.wordpress.republish_templates

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.poller.client.aclose()
        self.poller.parsers.close()
        self.store.engine.dispose()


def build_publisher(settings: Settings, account: XSettings | AccountSettings | None = None, *,
                    on_billed: Callable[[str, Sequence[str]], None] | None = None) -> Publisher:
    """The account's publisher on its network when its credentials are set, else dry-run.

    X: tweepy, with all four keys. Mastodon: its REST API, with the instance and an access token.
    Bluesky: XRPC, with the handle and an app password. Each client is imported only when used.
    """
    if isinstance(account, AccountSettings) and account.network != "x":
        return _other_network_publisher(settings, account)
    keys = account or settings.x
    values = [s.get_secret_value() for s in (keys.consumer_key, keys.consumer_secret, keys.access_token,
                                             keys.access_token_secret)]
    if not all(values):
        return DryRunPublisher()
    from relay.adapters.x import XCredentials, XPublisher  # tweepy and requests, only when posting for real

    timeout = settings.x.timeout_seconds
    return XPublisher(XCredentials(*values), api_base_url=settings.x.api_base_url, on_billed=on_billed,
                      timeout=(5.0, timeout), deadline=timeout + X_DEADLINE_BEYOND_TIMEOUT)


def _other_network_publisher(settings: Settings, account: AccountSettings) -> Publisher:
    if not account.has_credentials:
        return DryRunPublisher()
    timeout, deadline = budget(settings.x.timeout_seconds, X_DEADLINE_BEYOND_TIMEOUT)
    if account.network == "mastodon":
        from relay.adapters.mastodon import MastodonPublisher

        return MastodonPublisher(account.instance_url, account.access_token.get_secret_value(),
                                 visibility=account.visibility, timeout=timeout, transport=deadline)
    from relay.adapters.bluesky import BlueskyCredentials, BlueskyPublisher

    return BlueskyPublisher(BlueskyCredentials(account.handle, account.app_password.get_secret_value()),
                            service_url=account.service_url, timeout=timeout, transport=deadline)


def build_targets(settings: Settings) -> dict[str, Target]:
    """Every account's target: its network and composer."""
    targets = {DEFAULT_ACCOUNT: Target(DEFAULT_ACCOUNT, "x", compose_for_x)}
    for account in settings.accounts:
        targets[account.name] = Target(account.name, account.network, composer_for(account.network))
    return targets


def ask_instance_limits(targets: Mapping[str, Target], publishers: Mapping[str, Publisher]) -> None:
    """Give each Mastodon account's composer its instance's limits (``GET /api/v2/instance``).

    Until it has answered (or when it cannot be asked), statuses are written within Mastodon's
    default 500 characters, which every instance accepts; relay never waits for it to start.
    """
    for name, target in targets.items():
        ask = getattr(publishers.get(name), "instance_limits", None)
        if not isinstance(target.compose, MastodonComposer) or ask is None:
            continue
        try:
            limits: MastodonLimits = ask()
        except RelayError as exc:
            log.warning("could not read the Mastodon instance's limits; writing within %s characters",
                        target.compose.limits.max_characters, extra={"account": name, "error": str(exc)})
            continue
        target.compose.limits = limits
        log.info("Mastodon instance limits read", extra={"account": name, "max_characters": limits.max_characters})


def targets_lookup(settings: Settings, store: Store, targets: Mapping[str, Target]) -> Callable[[int | None],
                                                                                                 tuple[Target, ...]]:
    """Feed id -> the accounts its posts go out on; no feed (WordPress, republish by address): [wordpress]'s."""
    by_url = {feed.url: tuple(targets[name] for name in feed.targets) for feed in settings.feeds}
    wordpress = tuple(targets[name] for name in settings.wordpress.targets)

    def targets_for(feed_id: int | None) -> tuple[Target, ...]:
        if feed_id is None:
            return wordpress
        return by_url.get(store.configured_url_of(feed_id), wordpress)

    return targets_for


def cost_recorder(settings: Settings, store: Store, account: str) -> Callable[[str, Sequence[str]], None]:
    """What the X publisher of ``account`` calls for every billed read or media-metadata request."""
    publishing = settings.publishing
    prices = XPrices(post_read_usd=publishing.cost_per_post_read_usd,
                     own_post_read_usd=publishing.cost_per_own_post_read_usd,
                     user_read_usd=publishing.cost_per_user_read_usd,
                     media_metadata_usd=publishing.cost_per_media_metadata_usd)

    def record(kind: str, resources: Sequence[str]) -> None:
        record_charge(store.engine, account=account, kind=kind, resources=resources, unit_usd=prices.unit(kind),
                      now=utc_now())

    return record


def compose_options(feed: FeedSettings | WordPressSettings) -> ComposeOptions:
    return ComposeOptions(
        template=feed.template,
        hashtags=feed.hashtags,
        max_hashtags=feed.max_hashtags,
        hashtag_deny=frozenset(feed.hashtag_deny),
        utm_campaign=feed.utm_campaign,
        keep_feed_utm=feed.keep_feed_utm,
    )


def feed_plans(settings: Settings) -> list[FeedPlan]:
    polling = settings.polling
    rules = FloodRules(
        max_age=timedelta(days=polling.max_age_days),
        per_round=polling.max_posts_per_round,
        spacing=timedelta(minutes=polling.spacing_minutes),
        hold_threshold=polling.hold_threshold,
    )
    return [
        FeedPlan(
            url=feed.url,
            options=compose_options(feed),
            backfill=feed.backfill,
            interval=timedelta(minutes=polling.interval_minutes),
            rules=rules,
        )
        for feed in settings.feeds
    ]


def caps_from(settings: Settings, account: AccountSettings | None = None) -> Caps:
    """[publishing], with what an [[accounts]] block sets for itself on top. Only X bills per post."""
    publishing = settings.publishing
    on_x = account is None or account.network == "x"
    if account is not None:
        overrides = {k: v for k, v in account.model_dump(include=set(PublishingSettings.model_fields)).items()
                     if v is not None}
        publishing = publishing.model_copy(update=overrides)
    quiet = parse_quiet_hours(publishing.quiet_hours) if publishing.quiet_hours else None
    return Caps(
        daily_cap=publishing.daily_cap,
        min_spacing=timedelta(seconds=publishing.min_spacing_seconds),
        quiet_start=quiet[0] if quiet else None,
        quiet_end=quiet[1] if quiet else None,
        timezone=publishing.timezone,
        monthly_budget_usd=publishing.monthly_budget_usd,
        cost_with_url_usd=publishing.cost_per_post_with_link_usd if on_x else 0.0,
        cost_without_url_usd=publishing.cost_per_post_usd if on_x else 0.0,
    )


def options_lookup(settings: Settings, store: Store) -> Callable[[int | None], ComposeOptions]:
    """Feed id -> that feed's compose options; posts without a feed use the [wordpress] ones."""
    by_url = {feed.url: compose_options(feed) for feed in settings.feeds}
    wordpress = compose_options(settings.wordpress)

    def options_for(feed_id: int | None) -> ComposeOptions:
        if feed_id is None:
            return wordpress
        return by_url.get(store.configured_url_of(feed_id), wordpress)

    return options_for


def build_runtime(settings: Settings, *, publisher: Publisher | None = None) -> Runtime:
    store = Store(make_engine(settings.database.url), review=settings.publishing.review)
    publisher = publisher or build_publisher(settings, on_billed=cost_recorder(settings, store, "default"))
    guarded = SafeFetcher(allow_hosts=settings.fetch.allow_hosts)
    images = guarded if settings.fetch.images else None
    accounts = {a.name: (build_publisher(settings, a, on_billed=cost_recorder(settings, store, a.name)),
                         caps_from(settings, a)) for a in settings.accounts}
    targets = build_targets(settings)
    if any(target.network == "mastodon" for target in targets.values()):
        threading.Thread(target=ask_instance_limits, args=(targets, {n: p[0] for n, p in accounts.items()}),
                         name="relay-instance-limits", daemon=True).start()
    service = RelayService(store, publisher, caps=caps_from(settings), images=images,
                           options_for=options_lookup(settings, store), accounts=accounts,
                           targets_for=targets_lookup(settings, store, targets), targets=targets,
                           lease=timedelta(seconds=settings.publishing.lease_seconds),
                           tracked_base_url=settings.tracked_links_base)
    limits = FetchLimits()
    http = make_client(limits)
    poller = FeedPoller(
        service, feed_plans(settings),
        client=FeedClient(limits, trusted_hosts=[*settings.fetch.allow_hosts,
                                                 *(urlsplit(feed.url).hostname or "" for feed in settings.feeds)]),
        concurrency=settings.polling.concurrency, per_host=settings.polling.per_host,
        parsers=FeedParsers(processes_for(
            None if settings.polling.parse_processes == "auto" else settings.polling.parse_processes,
            len(settings.feeds),
        )),
        jitter=settings.polling.jitter,
        enricher=PageEnricher(guarded.fetch_page_async) if settings.polling.fetch_pages else None,
        instance=f"{socket.gethostname()}:{os.getpid()}",
        lease=timedelta(seconds=settings.polling.lease_seconds),
    )
    worker = Worker(service, poller, now=utc_now, tick_seconds=settings.polling.publish_interval_seconds,
                    sole_worker=store.engine.dialect.name == "sqlite")
    runtime = Runtime(settings, store, publisher, service, http, poller, worker)
    worker.engagement = functools.partial(refresh_engagement, runtime)
    poller.on_new_posts = indexnow_hook(http, endpoint=settings.indexnow.endpoint,
                                        key=settings.indexnow.key.get_secret_value())
    runtime.websub = build_subscriber(settings, store.engine, http, now=utc_now)
    if runtime.websub is not None:
        poller.on_document = runtime.websub.on_document
        poller.push_live = runtime.websub.push_live
        poller.push_slowdown = settings.websub.safety_poll_factor
        worker.renew_push = runtime.websub.renew_due
    if settings.evergreen.enabled:
        green = settings.evergreen

        def evergreen(now: datetime) -> object:
            return service.evergreen(now, after=timedelta(days=green.after_days),
                                     min_gap=timedelta(days=green.min_gap_days),
                                     templates_for=runtime.republish_templates)

        worker.evergreen = evergreen
    return runtime
