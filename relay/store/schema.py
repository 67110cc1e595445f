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
    Float,
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
    Column("lease_until", UTCDateTime()),
    Column("claimed_by", String(64)),
    Index("ix_feeds_due", "status", "next_check_at"),
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
    Column("tweet_id", String(512)),
    # X's tweet id, Mastodon's status id, or a Bluesky post's AT URI (at://did/app.bsky.feed.post/rkey).
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("account", String(64), nullable=False, default="default", server_default="default"),
    Column("cost_usd", Float, nullable=False, default=0.0, server_default="0"),
    Column("claimed_at", UTCDateTime()),
    Column("lease_until", UTCDateTime()),
    Column("network", String(16), nullable=False, default="x", server_default="x"),
    Column("remote_url", String(2048)),
    # Where people see the post (its page on X, on the Mastodon instance, on bsky.app).
    Column("extra", JSON),
    # The network's own parts of the composed text: Bluesky's link and tag facets and its link card.
    # Variants are numbered per post across every account, so each delivery has its own tracked link.
    UniqueConstraint("post_id", "variant", name="uq_deliveries_post_variant"),
    Index("ix_deliveries_status_due", "status", "next_attempt_at"),
    Index("ix_deliveries_account_sent", "account", "sent_at"),
    Index("ix_deliveries_account_due", "account", "status", "next_attempt_at"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("x_user_id", String(32)),
    Column("paused_reason", Text),
    Column("paused_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
)
"""One row per X account relay posts as: who it is on X, and whether publishing is paused."""

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

# -- links, clicks and X engagement (issue #7) ----------------------------------------------

links = Table(
    "links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(16), nullable=False),
    Column("post_id", Integer, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("delivery_variant", Integer, nullable=False),
    Column("target_url", String(2048), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # A code is never handed out twice: the database refuses it, not a prior check.
    UniqueConstraint("code", name="uq_links_code"),
    UniqueConstraint("post_id", "delivery_variant", name="uq_links_post_variant"),
)

clicks = Table(
    "clicks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("link_id", Integer, ForeignKey("links.id", ondelete="CASCADE"), nullable=False),
    Column("post_id", Integer, nullable=False),
    Column("delivery_variant", Integer, nullable=False),
    Column("clicked_at", UTCDateTime(), nullable=False),
    Column("method", String(8), nullable=False),
    Column("referrer_host", String(255)),
    Column("ua_class", String(16), nullable=False),
    Column("ua_name", String(32)),
    Column("client_hash", String(32), nullable=False),
    Column("human", Boolean, nullable=False),
    Column("reason", String(16)),
    Index("ix_clicks_post_variant", "post_id", "delivery_variant"),
    Index("ix_clicks_clicked_at", "clicked_at"),
)

click_salts = Table(
    "click_salts",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("salt", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

engagement_snapshots = Table(
    "engagement_snapshots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("checkpoint", String(8), nullable=False),
    Column("taken_at", UTCDateTime(), nullable=False),
    Column("found", Boolean, nullable=False),
    Column("impressions", Integer),
    Column("likes", Integer),
    Column("retweets", Integer),
    Column("replies", Integer),
    Column("quotes", Integer),
    Column("bookmarks", Integer),
    Column("url_link_clicks", Integer),
    Column("user_profile_clicks", Integer),
    UniqueConstraint("delivery_id", "checkpoint", name="uq_engagement_delivery_checkpoint"),
)

x_costs = Table(
    "x_costs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("day", String(10), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("resource", String(64)),
    Column("amount_usd", Float, nullable=False),
    UniqueConstraint("account", "resource", "day", name="uq_x_costs_resource_day"),
    Index("ix_x_costs_account_at", "account", "at"),
)
"""What X bills besides the posts themselves (reads per resource, media metadata), one row per charge.

X charges a resource once per UTC day, whichever endpoint returned it (its deduplication window):
a second read of the same post the same day inserts nothing (the unique key on ``post:<id>`` or
``user:<id>``). Writes have no resource and never collide.
Posts are billed on their delivery (``deliveries.cost_usd``)."""

webhook_ids = Table(
    "webhook_ids",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("webhook_id", String(255), nullable=False, unique=True),
    Column("received_at", UTCDateTime(), nullable=False),
)
"""Ids of processed webhook deliveries, so a retried or replayed delivery is done once."""

# -- WebSub push subscriptions (issue #4) ----------------------------------------------------

websub_subscriptions = Table(
    "websub_subscriptions",
    metadata,
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("hub_url", String(2048), nullable=False),
    Column("topic_url", String(2048), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("lease_until", UTCDateTime()),
    Column("renew_at", UTCDateTime()),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("verified_at", UTCDateTime()),
    Column("last_push_at", UTCDateTime()),
    Column("last_error", Text),
    Index("ix_websub_subscriptions_renew_at", "renew_at"),
)
"""One push subscription per feed (the callback is ``/websub/<feed_id>``).

``state``: requested (waiting for the hub's verification), verified (push is live until
``lease_until``), denied (the hub refused), expired (the lease ran out), unsubscribing.
``renew_at`` is when the worker next acts on the row: renew at 80% of the lease, or retry a
request the hub never verified. ``secret`` signs the hub's pushes, so it must be readable."""
