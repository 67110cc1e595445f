"""Which webhook deliveries relay has already processed.

A sender retries a delivery it thinks failed (WP-Cron re-sends with the same
``webhook-id``), and anyone who captured a signed request could send it again within the
timestamp window. An id is written only once its event has been recorded (the post, its
delivery): a crash between the two leaves the id unwritten, so the sender's retry is
processed, and recording a post is itself idempotent (one key per post), so a retry or a
race on the same id never makes a second tweet. Ids are kept :data:`KEEP` long, far beyond
any retry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from relay.store.schema import webhook_ids

KEEP = timedelta(days=30)
MAX_ID_LENGTH = 255


def remember_webhook_id(engine: Engine, webhook_id: str, now: datetime) -> bool:
    """Record ``webhook_id``; True when it is new (process it), False when already seen.

    Also forgets ids older than :data:`KEEP`, in the same transaction.
    """
    if not webhook_id or len(webhook_id) > MAX_ID_LENGTH:
        raise ValueError(f"a webhook id must have 1 to {MAX_ID_LENGTH} characters")
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(webhook_ids)
        .values(webhook_id=webhook_id, received_at=now)
        .on_conflict_do_nothing(index_elements=[webhook_ids.c.webhook_id])
        .returning(webhook_ids.c.id)
    )
    with engine.begin() as conn:
        conn.execute(delete(webhook_ids).where(webhook_ids.c.received_at < now - KEEP))
        return conn.execute(statement).scalar_one_or_none() is not None


def webhook_id_seen(engine: Engine, webhook_id: str) -> bool:
    """Whether an event with this id has already been recorded."""
    with engine.connect() as conn:
        found = conn.execute(select(webhook_ids.c.id).where(webhook_ids.c.webhook_id == webhook_id))
        return found.first() is not None
