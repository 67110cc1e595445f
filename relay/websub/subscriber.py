"""Subscribing to WebSub hubs, keeping the subscriptions alive, and answering their checks.

The life of a subscription (one per feed, callback ``{public_url}/websub/{feed_id}``):

1. a poll parses a feed that names a hub → :meth:`WebSubSubscriber.on_document` records a
   ``requested`` row with a fresh random secret, *then* POSTs ``hub.mode=subscribe`` (the row
   comes first because a hub may call back before its own answer reaches relay);
2. the hub GETs the callback → :func:`confirm_intent` echoes the challenge only when the
   mode and topic match what relay asked for, and the row becomes ``verified`` with the
   lease the hub granted;
3. the worker calls :meth:`WebSubSubscriber.renew_due` every tick: at 80% of the lease it
   subscribes again with the same secret (pushes signed with it stay valid meanwhile),
   retries requests a hub never verified, and unsubscribes feeds no longer configured.

Nothing here can fail a poll: a hub that is down is recorded on the row and retried later,
and polling carries on as the safety net. The secret never reaches a log line.

The secret is sent to every hub, https or not. The spec says it SHOULD travel over HTTPS
only; but relay accepts signed pushes only, and without a secret anyone could post to the
callback, so a plain-http hub gets the secret in clear (an eavesdropper could then forge a
push) rather than no protection at all. A hub that ignores it sends unsigned pushes, which
relay ignores: polling still finds the posts.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine

from relay.adapters.safe_fetch import HUB_MAX_BYTES, SafeFetcher, check_url
from relay.config.settings import Settings
from relay.core.models import FeedDocument
from relay.errors import FetchError
from relay.store import websub_store as db
from relay.store.rows import FeedRow
from relay.store.websub_store import DENIED, EXPIRED, REQUESTED, UNSUBSCRIBING, VERIFIED, Subscription
from relay.websub.discovery import discover

log = logging.getLogger("relay.websub")

RENEW_FRACTION = 0.8
"""Renew when this much of the lease has passed: a day of margin on the default 10-day lease."""
RETRY_AFTER = timedelta(hours=1)
"""A hub that was down, or never came to verify, is asked again this much later."""
DENIED_RETRY = timedelta(days=1)
CHECK_EVERY = timedelta(minutes=1)
"""How often :meth:`WebSubSubscriber.renew_due` really looks at the table (the worker ticks every few seconds)."""
HUB_DEADLINE_SECONDS = 15.0
PARALLEL_REQUESTS = 8


class WebSubSubscriber:
    """Asks hubs for push, on behalf of every polled feed that names one."""

    def __init__(
        self,
        engine: Engine,
        client: httpx.AsyncClient,
        *,
        public_url: str,
        lease_seconds: int,
        now: Callable[[], datetime],
        configured_urls: Collection[str] | None = None,
        allow_hosts: Collection[str] = (),
    ) -> None:
        self.engine = engine
        self.client = client
        self.public_url = public_url.rstrip("/")
        self.lease_seconds = lease_seconds
        self.now = now
        self.configured_urls = None if configured_urls is None else frozenset(configured_urls)
        """Feeds in the config; a subscription of any other feed is ended at its next renewal."""
        self.allow_hosts = tuple(allow_hosts)
        feed_hosts = {urlsplit(url).hostname or "" for url in configured_urls or ()}
        self.guarded = SafeFetcher(allow_hosts=[*self.allow_hosts, *sorted(feed_hosts - {""})],
                                   deadline=HUB_DEADLINE_SECONDS)
        """Hub addresses come from feeds: every request to a hub goes through the guarded fetcher,
        which trusts only the operator's own hosts (``[fetch] allow_hosts`` and the configured feeds')."""
        self._next_check: datetime | None = None
        self._slots = asyncio.Semaphore(PARALLEL_REQUESTS)

    def callback_url(self, feed_id: int) -> str:
        return f"{self.public_url}/websub/{feed_id}"

    # -- the poller's hooks ----------------------------------------------------------------

    async def on_document(self, feed: FeedRow, document: FeedDocument, headers: Mapping[str, str]) -> None:
        """Subscribe when the feed names a hub relay is not yet subscribed to for this topic."""
        found = discover(headers, document, feed_url=feed.url)
        if found.hub_url is None:
            return
        current = await asyncio.to_thread(db.get_subscription, self.engine, feed.id)
        if (current is not None and current.state != UNSUBSCRIBING
                and (current.hub_url, current.topic_url) == (found.hub_url, found.topic_url)):
            return  # renew_due looks after renewals and retries
        if not await asyncio.to_thread(self._hub_allowed, found.hub_url, feed):
            return
        await self.subscribe(feed.id, found.hub_url, found.topic_url)

    def push_live(self, now: datetime) -> set[int]:
        """Feed ids whose push is verified and unexpired (the poller polls them less often)."""
        return db.live_feed_ids(self.engine, now)

    # -- requests to the hub ---------------------------------------------------------------

    async def subscribe(self, feed_id: int, hub_url: str, topic_url: str, *, secret: str | None = None) -> bool:
        """Ask the hub for a subscription; True when it accepted the request (it verifies later).

        With ``secret`` (a renewal or a retry) the row keeps its state and lease, so push
        stays live while the hub verifies again; without, a new secret starts a new row.
        """
        now = self.now()
        current = await asyncio.to_thread(db.get_subscription, self.engine, feed_id)
        if secret is not None and current is not None:
            row = replace(current, hub_url=hub_url, topic_url=topic_url, requested_at=now, renew_at=now + RETRY_AFTER,
                          state=REQUESTED if current.state in (EXPIRED, DENIED) else current.state)
        else:
            row = Subscription(feed_id=feed_id, hub_url=hub_url, topic_url=topic_url,
                               secret=secrets.token_hex(32), state=REQUESTED, requested_at=now,
                               renew_at=now + RETRY_AFTER)
        await asyncio.to_thread(db.save_subscription, self.engine, row)
        return await self._send(row, "subscribe", now)

    async def unsubscribe(self, feed_id: int) -> bool:
        """Ask the hub to stop; the row is deleted when the hub verifies the request."""
        now = self.now()
        current = await asyncio.to_thread(db.get_subscription, self.engine, feed_id)
        if current is None:
            return False
        await asyncio.to_thread(db.update_subscription, self.engine, feed_id, state=UNSUBSCRIBING,
                                requested_at=now, renew_at=now + RETRY_AFTER)
        return await self._send(replace(current, state=UNSUBSCRIBING), "unsubscribe", now)

    async def _send(self, row: Subscription, mode: str, now: datetime) -> bool:
        form = {"hub.mode": mode, "hub.topic": row.topic_url, "hub.callback": self.callback_url(row.feed_id)}
        if mode == "subscribe":
            form |= {"hub.lease_seconds": str(self.lease_seconds), "hub.secret": row.secret}
        error: str | None
        async with self._slots:
            try:
                answer = await self.guarded.fetch(row.hub_url, max_bytes=HUB_MAX_BYTES, method="POST", form=form)
            except FetchError as exc:
                refused = exc.status is not None
                error = (f"the hub {row.hub_url} refused the {mode} request: HTTP {exc.status}" if refused
                         else f"could not reach the hub {row.hub_url}: {exc}")
            else:
                error = None if 200 <= answer.status < 300 else (
                    f"the hub {row.hub_url} refused the {mode} request: HTTP {answer.status} "
                    f"{answer.body[:200].decode('utf-8', 'replace').strip().replace(row.secret, '[secret]')}"
                )
        extra = {"feed_id": row.feed_id, "hub": row.hub_url, "topic": row.topic_url, "mode": mode}
        if error is not None:
            log.warning("websub request failed; relay keeps polling and asks again later", extra={**extra,
                        "error": error})
            await asyncio.to_thread(db.update_subscription, self.engine, row.feed_id, last_error=error,
                                    renew_at=now + RETRY_AFTER)
            return False
        log.info("websub request sent; waiting for the hub to verify it", extra=extra)
        return True

    # -- the worker's hook -----------------------------------------------------------------

    async def renew_due(self, now: datetime) -> int:
        """Renew, retry or end the subscriptions whose time has come; returns how many were acted on.

        Looks at the table at most once per :data:`CHECK_EVERY` of ``now``, so the worker
        may call it on every tick.
        """
        if self._next_check is not None and now < self._next_check:
            return 0
        self._next_check = now + CHECK_EVERY
        expired = await asyncio.to_thread(db.expire_lapsed, self.engine, now)
        if expired:
            log.warning("websub leases ended before renewal; polling normally until the hub verifies again",
                        extra={"subscriptions": expired})
        due = await asyncio.to_thread(db.due_subscriptions, self.engine, now)
        await asyncio.gather(*(self._act_on(item, now) for item in due))
        return len(due)

    async def _act_on(self, item: db.DueSubscription, now: datetime) -> None:
        sub = item.subscription
        if not await asyncio.to_thread(db.claim_due, self.engine, sub.feed_id, seen_renew_at=sub.renew_at,
                                       until=now + RETRY_AFTER):
            return  # another instance sharing the database took it
        wanted = item.feed_status == "active" and (
            self.configured_urls is None or item.configured_url in self.configured_urls
        )
        if sub.state == UNSUBSCRIBING:
            if sub.lease_until is None or sub.lease_until <= now:
                await asyncio.to_thread(db.delete_subscription, self.engine, sub.feed_id)
            else:
                await self.unsubscribe(sub.feed_id)
        elif not wanted:
            await self.unsubscribe(sub.feed_id)
        else:
            await self.subscribe(sub.feed_id, sub.hub_url, sub.topic_url, secret=sub.secret)

    def _hub_allowed(self, hub_url: str, feed: FeedRow) -> bool:
        """A hub on the feed's own host or a public address; an internal one needs ``[fetch] allow_hosts``.

        The hub's address comes from the feed's content, so a hostile feed could point relay's
        POST at a service on relay's own network.
        """
        hub_host = urlsplit(hub_url).hostname or ""
        feed_hosts = {urlsplit(url).hostname for url in (feed.url, feed.configured_url)}
        if hub_host in feed_hosts:
            return True
        try:
            check_url(hub_url, self.allow_hosts)
        except FetchError as exc:
            log.warning("websub hub refused", extra={"feed_id": feed.id, "hub": hub_url, "error": str(exc)})
            return False
        return True


# -- the callback's decisions (called by relay.routes.websub) ----------------------------------


def confirm_intent(
    engine: Engine, feed_id: int, *, mode: str, topic: str, lease_seconds: int | None, default_lease: int,
    now: datetime,
) -> bool:
    """True (echo the challenge) only for a request relay made: same feed, topic and mode."""
    sub = db.get_subscription(engine, feed_id)
    if sub is None or sub.topic_url != topic:
        return False
    if mode == "subscribe" and sub.state in (REQUESTED, VERIFIED):
        lease = timedelta(seconds=lease_seconds if lease_seconds and lease_seconds > 0 else default_lease)
        db.update_subscription(engine, feed_id, state=VERIFIED, verified_at=now, lease_until=now + lease,
                               renew_at=now + lease * RENEW_FRACTION, last_error=None)
        log.info("websub subscription verified: push is live", extra={"feed_id": feed_id, "topic": topic,
                                                                      "lease_seconds": lease.total_seconds()})
        return True
    if mode == "unsubscribe" and sub.state == UNSUBSCRIBING:
        db.delete_subscription(engine, feed_id)
        log.info("websub subscription ended", extra={"feed_id": feed_id, "topic": topic})
        return True
    return False


def record_denial(engine: Engine, feed_id: int, *, topic: str, reason: str, now: datetime) -> bool:
    """The hub refused (or revoked) the subscription: polling goes on, a new request tomorrow."""
    sub = db.get_subscription(engine, feed_id)
    if sub is None or sub.topic_url != topic or sub.state not in (REQUESTED, VERIFIED):
        return False
    message = f"the hub denied the subscription: {reason[:300] or 'no reason given'}"
    db.update_subscription(engine, feed_id, state=DENIED, last_error=message, renew_at=now + DENIED_RETRY)
    log.warning("websub subscription denied", extra={"feed_id": feed_id, "topic": topic, "reason": reason[:300]})
    return True


def accepts_push(sub: Subscription | None) -> bool:
    """Content is taken while a subscription exists; an expired one too (the hub's clock may differ)."""
    return sub is not None and sub.state in (REQUESTED, VERIFIED, EXPIRED)


def build_subscriber(
    settings: Settings, engine: Engine, client: httpx.AsyncClient, *, now: Callable[[], datetime]
) -> WebSubSubscriber | None:
    """The subscriber when push is on and relay has a public address for hubs to call; else None."""
    if not settings.websub.enabled:
        return None
    if not settings.server.public_url:
        log.info("websub is off: set server.public_url to the address hubs can reach relay at")
        return None
    return WebSubSubscriber(
        engine, client, public_url=settings.server.public_url, lease_seconds=settings.websub.lease_seconds,
        now=now, configured_urls=[feed.url for feed in settings.feeds], allow_hosts=settings.fetch.allow_hosts,
    )
