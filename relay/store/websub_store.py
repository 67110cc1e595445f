"""Every query about WebSub subscriptions, on SQLite or PostgreSQL.

Plain functions over an :class:`Engine` (like ``webhook_ids``): the subscriber, the
callback route and the poller's ``push_live`` all need the same few statements, and each
is one short transaction. One row per feed, keyed by ``feed_id``: the callback path
carries that id, so the row is found without trusting anything else in the request.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from relay.store.schema import feeds, websub_subscriptions

REQUESTED = "requested"
VERIFIED = "verified"
DENIED = "denied"
EXPIRED = "expired"
UNSUBSCRIBING = "unsubscribing"

_table = websub_subscriptions


@dataclass(frozen=True)
class Subscription:
    feed_id: int
    hub_url: str
    topic_url: str
    secret: str
    state: str
    requested_at: datetime
    lease_until: datetime | None = None
    renew_at: datetime | None = None
    verified_at: datetime | None = None
    last_push_at: datetime | None = None
    last_error: str | None = None

    def live(self, now: datetime) -> bool:
        """Push is live: the hub verified it and the lease has not run out."""
        return self.state == VERIFIED and self.lease_until is not None and self.lease_until > now


@dataclass(frozen=True)
class DueSubscription:
    """A subscription the worker must act on, with what it needs to know about its feed."""

    subscription: Subscription
    configured_url: str
    feed_status: str


def _row(mapping: Any) -> Subscription:
    return Subscription(**{name: mapping[name] for name in Subscription.__dataclass_fields__})


def get_subscription(engine: Engine, feed_id: int) -> Subscription | None:
    with engine.connect() as conn:
        row = conn.execute(select(_table).where(_table.c.feed_id == feed_id)).first()
    return None if row is None else _row(row._mapping)


def save_subscription(engine: Engine, subscription: Subscription) -> None:
    """Insert or replace the feed's subscription (a new hub, a renewal, a retry)."""
    values = asdict(subscription)
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(_table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[_table.c.feed_id],
        set_={name: statement.excluded[name] for name in values if name != "feed_id"},
    )
    with engine.begin() as conn:
        conn.execute(statement)


def update_subscription(engine: Engine, feed_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(_table).where(_table.c.feed_id == feed_id).values(**values))


def delete_subscription(engine: Engine, feed_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(delete(_table).where(_table.c.feed_id == feed_id))


def live_feed_ids(engine: Engine, now: datetime) -> set[int]:
    """Feeds whose push is live now (verified, lease not over): the poller slows them down."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(_table.c.feed_id).where(and_(_table.c.state == VERIFIED, _table.c.lease_until > now))
        )
        return {int(feed_id) for feed_id in rows.scalars()}


def expire_lapsed(engine: Engine, now: datetime) -> int:
    """Verified subscriptions whose lease has ended become ``expired``; returns how many."""
    with engine.begin() as conn:
        result = conn.execute(
            update(_table)
            .where(and_(_table.c.state == VERIFIED, _table.c.lease_until <= now))
            .values(state=EXPIRED, last_error="the lease ended before relay could renew it")
        )
        return int(result.rowcount or 0)


def due_subscriptions(engine: Engine, now: datetime, *, limit: int = 500) -> list[DueSubscription]:
    """Rows whose ``renew_at`` has come, oldest first, with their feed's configured URL and status."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(_table, feeds.c.configured_url, feeds.c.status)
            .join(feeds, feeds.c.id == _table.c.feed_id)
            .where(_table.c.renew_at <= now)
            .order_by(_table.c.renew_at)
            .limit(limit)
        )
        return [DueSubscription(_row(r._mapping), r.configured_url, r.status) for r in rows]


def claim_due(engine: Engine, feed_id: int, *, seen_renew_at: datetime | None, until: datetime) -> bool:
    """Take a due row for this instance: True for exactly one of several instances racing on it.

    The guarded UPDATE moves ``renew_at`` on only if nobody moved it since it was read, so
    instances sharing a database do not all send the hub the same renewal.
    """
    with engine.begin() as conn:
        result = conn.execute(
            update(_table)
            .where(and_(_table.c.feed_id == feed_id, _table.c.renew_at == seen_renew_at))
            .values(renew_at=until)
        )
        return bool(result.rowcount)


def list_subscriptions(engine: Engine) -> list[Subscription]:
    """Every subscription, for status pages and tests."""
    with engine.connect() as conn:
        return [_row(r._mapping) for r in conn.execute(select(_table).order_by(_table.c.feed_id))]
