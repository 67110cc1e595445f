"""Review mode's SQL: the deliveries waiting for the owner, and the owner's answer to each.

Every answer is a guarded UPDATE (``status = 'review'``), so two clicks, two tabs or two
instances approve or skip a delivery once: the second finds nothing to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, and_, case, insert, select, update

from relay.store.outbox import QUEUED, REVIEW, SKIPPED
from relay.store.schema import deliveries, delivery_attempts, posts


@dataclass(frozen=True)
class ReviewRow:
    """A tweet waiting for the owner's approval, with the post it is about."""

    delivery_id: int
    post_id: int
    feed_id: int | None
    title: str
    url: str
    text: str
    link: str
    weighted_length: int
    account: str
    created_at: datetime
    network: str = "x"


def _waiting() -> Select[Any]:
    return select(
        deliveries.c.id, deliveries.c.post_id, posts.c.feed_id, posts.c.title, posts.c.url, deliveries.c.text,
        deliveries.c.link, deliveries.c.weighted_length, deliveries.c.account, deliveries.c.created_at,
        deliveries.c.network,
    ).join(posts, posts.c.id == deliveries.c.post_id)


class ReviewQueries:
    engine: Engine

    def waiting_for_review(self, *, limit: int = 100) -> list[ReviewRow]:
        """The deliveries waiting for approval, oldest first."""
        query = (
            _waiting()
            .where(deliveries.c.status == REVIEW)
            .order_by(deliveries.c.created_at, deliveries.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [ReviewRow(*row) for row in conn.execute(query)]

    def review_row(self, delivery_id: int) -> ReviewRow | None:
        """The waiting delivery with this id, or None when it does not wait (any more)."""
        query = (
            _waiting()
            .where(and_(deliveries.c.id == delivery_id, deliveries.c.status == REVIEW))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else ReviewRow(*row)

    def approve_review(self, delivery_id: int, *, text: str, weighted_length: int, now: datetime,
                       edited: bool) -> bool:
        """Queue a waiting delivery with the owner's text; False when it no longer waits.

        A delivery spaced out to a later time (a burst of posts) keeps that time.
        """
        due = case((deliveries.c.next_attempt_at > now, deliveries.c.next_attempt_at), else_=now)
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(deliveries)
                .where(and_(deliveries.c.id == delivery_id, deliveries.c.status == REVIEW))
                .values(status=QUEUED, text=text, weighted_length=weighted_length, next_attempt_at=due,
                        updated_at=now)
            ).rowcount
            if changed:
                detail = "approved by the owner with an edited text" if edited else "approved by the owner"
                conn.execute(insert(delivery_attempts).values(delivery_id=delivery_id, at=now, outcome="approved",
                                                              detail=detail))
        return bool(changed)

    def skip_review(self, delivery_id: int, now: datetime) -> bool:
        """Never post a waiting delivery; False when it no longer waits."""
        reason = "skipped by the owner on the dashboard"
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(deliveries)
                .where(and_(deliveries.c.id == delivery_id, deliveries.c.status == REVIEW))
                .values(status=SKIPPED, updated_at=now, last_error=reason)
            ).rowcount
            if changed:
                conn.execute(insert(delivery_attempts).values(delivery_id=delivery_id, at=now, outcome="skipped",
                                                              detail=reason))
        return bool(changed)
