"""The tables, as SQLAlchemy Core metadata.

The migrations in ``relay/migrations`` create exactly this; a test compares the two so
they cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on every database.

    SQLite has no time zone type and hands back naive values; storing naive UTC and
    re-attaching UTC on the way out keeps comparisons right on both databases.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("relay stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(2048), nullable=False, unique=True),
    Column("configured_url", String(2048), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False, default="active"),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("content_hash", String(64)),
    Column("baseline_at", UTCDateTime()),
    Column("last_checked_at", UTCDateTime()),
    Column("next_check_at", UTCDateTime()),
    Column("error_count", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_new_entry_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
)

posts = Table(
    "posts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dedup_key", String(2048), nullable=False, unique=True),
    Column("normalized_url", String(2048), nullable=False),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="SET NULL")),
    Column("source", String(16), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("data", JSON, nullable=False),
    Column("is_baseline", Boolean, nullable=False, default=False),
    Column("published_at", UTCDateTime()),
    Column("first_seen_at", UTCDateTime(), nullable=False),
    Index("ix_posts_normalized_url", "normalized_url"),
    Index("ix_posts_feed_id", "feed_id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("post_id", Integer, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("variant", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("link", String(2048), nullable=False),
    Column("weighted_length", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("tweet_id", String(32)),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    UniqueConstraint("post_id", "variant", name="uq_deliveries_post_variant"),
    Index("ix_deliveries_status_due", "status", "next_attempt_at"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_delivery_attempts_delivery", "delivery_id"),
)
