"""Feeds, posts, the delivery outbox and its attempts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("url", sa.String(2048), nullable=False, unique=True),
        sa.Column("configured_url", sa.String(2048), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("baseline_at", TZ),
        sa.Column("last_checked_at", TZ),
        sa.Column("next_check_at", TZ),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("last_new_entry_at", TZ),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dedup_key", sa.String(2048), nullable=False, unique=True),
        sa.Column("normalized_url", sa.String(2048), nullable=False),
        sa.Column("feed_id", sa.Integer, sa.ForeignKey("feeds.id", ondelete="SET NULL")),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("is_baseline", sa.Boolean, nullable=False),
        sa.Column("published_at", TZ),
        sa.Column("first_seen_at", TZ, nullable=False),
    )
    op.create_index("ix_posts_normalized_url", "posts", ["normalized_url"])
    op.create_index("ix_posts_feed_id", "posts", ["feed_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("variant", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("link", sa.String(2048), nullable=False),
        sa.Column("weighted_length", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("tweet_id", sa.String(32)),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("sent_at", TZ),
        sa.UniqueConstraint("post_id", "variant", name="uq_deliveries_post_variant"),
    )
    op.create_index("ix_deliveries_status_due", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_table("posts")
    op.drop_table("feeds")
