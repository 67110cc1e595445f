"""Tracked links, the clicks on them, the daily salts that hash click addresses, X engagement.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("delivery_variant", sa.Integer, nullable=False),
        sa.Column("target_url", sa.String(2048), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("code", name="uq_links_code"),
        sa.UniqueConstraint("post_id", "delivery_variant", name="uq_links_post_variant"),
    )
    op.create_table(
        "clicks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("link_id", sa.Integer, sa.ForeignKey("links.id", ondelete="CASCADE"), nullable=False),
        sa.Column("post_id", sa.Integer, nullable=False),
        sa.Column("delivery_variant", sa.Integer, nullable=False),
        sa.Column("clicked_at", TZ, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("referrer_host", sa.String(255)),
        sa.Column("ua_class", sa.String(16), nullable=False),
        sa.Column("ua_name", sa.String(32)),
        sa.Column("client_hash", sa.String(32), nullable=False),
        sa.Column("human", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(16)),
    )
    op.create_index("ix_clicks_post_variant", "clicks", ["post_id", "delivery_variant"])
    op.create_index("ix_clicks_clicked_at", "clicks", ["clicked_at"])
    op.create_table(
        "click_salts",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "engagement_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "delivery_id", sa.Integer, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("checkpoint", sa.String(8), nullable=False),
        sa.Column("taken_at", TZ, nullable=False),
        sa.Column("found", sa.Boolean, nullable=False),
        sa.Column("impressions", sa.Integer),
        sa.Column("likes", sa.Integer),
        sa.Column("retweets", sa.Integer),
        sa.Column("replies", sa.Integer),
        sa.Column("quotes", sa.Integer),
        sa.Column("bookmarks", sa.Integer),
        sa.Column("url_link_clicks", sa.Integer),
        sa.Column("user_profile_clicks", sa.Integer),
        sa.UniqueConstraint("delivery_id", "checkpoint", name="uq_engagement_delivery_checkpoint"),
    )


def downgrade() -> None:
    op.drop_table("engagement_snapshots")
    op.drop_table("click_salts")
    op.drop_index("ix_clicks_clicked_at", table_name="clicks")
    op.drop_index("ix_clicks_post_variant", table_name="clicks")
    op.drop_table("clicks")
    op.drop_table("links")
