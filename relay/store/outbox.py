"""The outbox's SQL: claiming deliveries under a lease, recording attempts, account state.

A delivery moves ``queued -> sending -> sent | failed | skipped`` (in review mode it starts as
``review`` and becomes ``queued`` or ``skipped`` by the owner's hand). ``sending`` carries a
lease: while it runs, no other worker touches the row; when it has run out, the worker
that sent it is presumed dead and the delivery is reconciled against X before any retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update

from relay.core.models import Tweet
from relay.core.policy import Usage
from relay.store.rows import DeliveryRow, row_to
from relay.store.schema import accounts, deliveries, delivery_attempts, x_costs

QUEUED, SENDING, SENT, FAILED, SKIPPED = "queued", "sending", "sent", "failed", "skipped"
REVIEW = "review"
"""Review mode: the delivery waits for the owner's approval on the dashboard; the outbox never claims it."""
DELIVERY_STATES = (REVIEW, QUEUED, SENDING, SENT, FAILED, SKIPPED)
DEFAULT_ACCOUNT = "default"


def queued_delivery(
    post_id: int, variant: int, tweet: Tweet, now: datetime, account: str = DEFAULT_ACCOUNT, *,
    review: bool = False, network: str = "x",
) -> dict[str, Any]:
    """Column values of a new delivery, due at once (or, in review mode, waiting for the owner)."""
    return {
        "account": account,
        "network": network,
        "extra": tweet.extra,
        "post_id": post_id,
        "variant": variant,
        "status": REVIEW if review else QUEUED,
        "text": tweet.text,
        "link": tweet.link,
        "weighted_length": tweet.weighted_length,
        "attempts": 0,
        "next_attempt_at": now,
        "dry_run": False,
        "created_at": now,
        "updated_at": now,
    }


class OutboxQueries:
    engine: Engine

    def claim_due(
        self, now: datetime, limit: int, *, lease: timedelta = timedelta(seconds=90), account: str | None = None
    ) -> list[DeliveryRow]:
        """Move up to ``limit`` due deliveries from queued to sending, under a lease.

        The guarded UPDATE (``status = 'queued'``) makes a claim atomic on both databases;
        PostgreSQL also skips rows another instance has locked.
        """
        query = (
            select(deliveries.c.id)
            .where(_due(now, account))
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
        )
        claimed: list[DeliveryRow] = []
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            for delivery_id in conn.execute(query).scalars().all():
                won = conn.execute(
                    update(deliveries)
                    .where(and_(deliveries.c.id == delivery_id, deliveries.c.status == QUEUED))
                    .values(status=SENDING, attempts=deliveries.c.attempts + 1, updated_at=now, claimed_at=now,
                            lease_until=now + lease)
                ).rowcount
                if won:
                    row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).one()
                    claimed.append(row_to(DeliveryRow, row._mapping))
        return claimed

    def next_due(self, now: datetime, account: str | None = None) -> DeliveryRow | None:
        """The delivery that would be claimed next, without claiming it (to price it first)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(deliveries)
                .where(_due(now, account))
                .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
                .limit(1)
            ).first()
        return None if row is None else row_to(DeliveryRow, row._mapping)

    def abandoned(self, now: datetime, *, account: str | None = None) -> list[DeliveryRow]:
        """Deliveries left in ``sending`` by a worker that died (its lease has run out)."""
        condition = and_(deliveries.c.status == SENDING,
                         or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now))
        if account is not None:
            condition = and_(condition, deliveries.c.account == account)
        with self.engine.connect() as conn:
            return [row_to(DeliveryRow, r._mapping) for r in conn.execute(select(deliveries).where(condition))]

    def take_over(self, delivery_id: int, now: datetime, *, lease: timedelta) -> bool:
        """Atomically take a ``sending`` delivery whose worker died; False when another instance was faster."""
        condition = and_(deliveries.c.id == delivery_id, deliveries.c.status == SENDING,
                         or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now))
        with self.engine.begin() as conn:
            return bool(conn.execute(update(deliveries).where(condition).values(lease_until=now + lease)).rowcount)

    def extend_lease(self, delivery_id: int, *, held_until: datetime | None, until: datetime) -> bool:
        """Keep a ``sending`` delivery ours until ``until``; False when another worker took it over.

        ``held_until`` is the lease this worker was given; a take-over changes it, so the guard
        fails and the caller must not post.
        """
        condition = and_(deliveries.c.id == delivery_id, deliveries.c.status == SENDING,
                         deliveries.c.lease_until.is_(None) if held_until is None
                         else deliveries.c.lease_until == held_until)
        with self.engine.begin() as conn:
            return bool(conn.execute(update(deliveries).where(condition).values(lease_until=until)).rowcount)

    def tweet_ids_recorded(self, tweet_ids: Sequence[str], account: str | None = None) -> set[str]:
        """Which of these post ids some delivery (of ``account``) already carries (never claim one post twice).

        Scoped to the account: a Mastodon status id and an X tweet id are both numbers and may be equal.
        """
        if not tweet_ids:
            return set()
        condition: Any = deliveries.c.tweet_id.in_(list(tweet_ids))
        if account is not None:
            condition = and_(condition, deliveries.c.account == account)
        with self.engine.connect() as conn:
            found = conn.execute(select(deliveries.c.tweet_id).where(condition))
            return {str(value) for value in found.scalars().all()}

    def finish_delivery(
        self,
        delivery_id: int,
        *,
        status: str,
        now: datetime,
        outcome: str,
        detail: str = "",
        tweet_id: str | None = None,
        dry_run: bool = False,
        cost_usd: float = 0.0,
        next_attempt_at: datetime | None = None,
        tweet: Tweet | None = None,
        remote_url: str | None = None,
    ) -> None:
        """Record an attempt's outcome and the delivery's new state, together.

        ``tweet`` replaces the text (a recomposed variant after X refused the first).
        """
        values: dict[str, Any] = {"status": status, "updated_at": now, "last_error": detail or None,
                                  "lease_until": None}
        if status == SENT:
            values.update(tweet_id=tweet_id, dry_run=dry_run, sent_at=now, last_error=None, cost_usd=cost_usd,
                          remote_url=remote_url)
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        if tweet is not None:
            values.update(text=tweet.text, link=tweet.link, weighted_length=tweet.weighted_length, extra=tweet.extra)
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))
            conn.execute(
                insert(delivery_attempts).values(delivery_id=delivery_id, at=now, outcome=outcome, detail=detail)
            )

    def requeue(self, delivery_id: int, now: datetime) -> bool:
        """``relay outbox retry``: put a failed or skipped delivery back in the queue.

        Not one that never had a text (its network could not carry the post): there is nothing to send.
        """
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(deliveries)
                .where(and_(deliveries.c.id == delivery_id, deliveries.c.status.in_([FAILED, SKIPPED]),
                            deliveries.c.text != ""))
                .values(status=QUEUED, next_attempt_at=now, updated_at=now)
            ).rowcount
            if changed:
                conn.execute(insert(delivery_attempts).values(delivery_id=delivery_id, at=now, outcome="requeued",
                                                              detail="re-queued by the operator"))
        return bool(changed)

    def list_deliveries(self, statuses: Sequence[str] | None = None) -> list[DeliveryRow]:
        query = select(deliveries).order_by(deliveries.c.id)
        if statuses:
            query = query.where(deliveries.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return [row_to(DeliveryRow, r._mapping) for r in conn.execute(query)]

    def delivery_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(deliveries.c.status, func.count()).group_by(deliveries.c.status)).all()
        counts = dict.fromkeys(DELIVERY_STATES, 0)
        counts.update({status: count for status, count in rows})
        return counts

    def attempts_for(self, delivery_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(delivery_attempts)
                .where(delivery_attempts.c.delivery_id == delivery_id)
                .order_by(delivery_attempts.c.id)
            )
            return [dict(r._mapping) for r in rows]

    def usage(self, account: str, now: datetime, month_start: datetime) -> Usage:
        """Posts of the last 24 h, the last post, and the money spent this month: posts (dry-runs are free)
        plus what the cost ledger holds (reads, media metadata)."""
        real_sent = and_(
            deliveries.c.account == account, deliveries.c.status == SENT, deliveries.c.dry_run.is_(False)
        )
        day_ago = now - timedelta(hours=24)
        with self.engine.connect() as conn:
            count, oldest = conn.execute(
                select(func.count(), func.min(deliveries.c.sent_at)).where(
                    and_(real_sent, deliveries.c.sent_at > day_ago)
                )
            ).one()
            last = conn.execute(select(func.max(deliveries.c.sent_at)).where(real_sent)).scalar()
            spent = conn.execute(
                select(func.coalesce(func.sum(deliveries.c.cost_usd), 0.0)).where(
                    and_(real_sent, deliveries.c.sent_at >= month_start)
                )
            ).scalar()
            spent = float(spent or 0.0) + float(conn.execute(
                select(func.coalesce(func.sum(x_costs.c.amount_usd), 0.0)).where(
                    and_(x_costs.c.account == account, x_costs.c.at >= month_start))
            ).scalar() or 0.0)
        return Usage(
            sent_last_24h=int(count),
            oldest_in_window=aware(oldest),
            last_sent_at=aware(last),
            spent_this_month_usd=float(spent or 0.0),
        )

    # -- account state ---------------------------------------------------------------------

    def account_pause(self, account: str) -> tuple[str | None, datetime | None]:
        """Why publishing for the account is paused (None when it is not) and since when."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(accounts.c.paused_reason, accounts.c.paused_at).where(accounts.c.name == account)
            ).first()
        return (None, None) if row is None else (row.paused_reason, row.paused_at)

    def set_account_pause(self, account: str, reason: str | None, now: datetime) -> None:
        """Pause (with the reason a human must act on) or resume (``reason=None``) an account."""
        values = {"paused_reason": reason, "paused_at": now if reason else None, "updated_at": now}
        with self.engine.begin() as conn:
            changed = conn.execute(update(accounts).where(accounts.c.name == account).values(**values)).rowcount
            if not changed:
                conn.execute(insert(accounts).values(name=account, **values))


def _due(now: datetime, account: str | None) -> Any:
    condition = and_(deliveries.c.status == QUEUED, deliveries.c.next_attempt_at <= now)
    return condition if account is None else and_(condition, deliveries.c.account == account)


def aware(value: datetime | None) -> datetime | None:
    """Aggregates bypass the column type on SQLite and come back naive (or as text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
