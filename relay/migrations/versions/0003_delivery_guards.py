"""Accounts (paused state, X user id) and per-delivery account, cost and claim lease.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("account", sa.String(64), nullable=False, server_default="default"))
        batch.add_column(sa.Column("cost_usd", sa.Float, nullable=False, server_default="0"))
        batch.add_column(sa.Column("claimed_at", TZ))
        batch.add_column(sa.Column("lease_until", TZ))
    op.create_index("ix_deliveries_account_sent", "deliveries", ["account", "sent_at"])
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("x_user_id", sa.String(32)),
        sa.Column("paused_reason", sa.Text),
        sa.Column("paused_at", TZ),
        sa.Column("updated_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("accounts")
    op.drop_index("ix_deliveries_account_sent", "deliveries")
    with op.batch_alter_table("deliveries") as batch:
        for column in ("lease_until", "claimed_at", "cost_usd", "account"):
            batch.drop_column(column)
