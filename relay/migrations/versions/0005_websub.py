"""WebSub push subscriptions: one per feed, with the secret that signs the hub's pushes.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "websub_subscriptions",
        sa.Column(
            "feed_id", sa.Integer, sa.ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True,
            autoincrement=False,
        ),
        sa.Column("hub_url", sa.String(2048), nullable=False),
        sa.Column("topic_url", sa.String(2048), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_until", TZ),
        sa.Column("renew_at", TZ),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("verified_at", TZ),
        sa.Column("last_push_at", TZ),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_websub_subscriptions_renew_at", "websub_subscriptions", ["renew_at"])


def downgrade() -> None:
    op.drop_index("ix_websub_subscriptions_renew_at", table_name="websub_subscriptions")
    op.drop_table("websub_subscriptions")
