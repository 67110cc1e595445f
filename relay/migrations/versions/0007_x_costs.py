"""The cost ledger: what X bills for reads and media metadata, per account and day.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "x_costs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("resource", sa.String(64)),
        sa.Column("amount_usd", sa.Float, nullable=False),
        sa.UniqueConstraint("account", "resource", "day", name="uq_x_costs_resource_day"),
    )
    op.create_index("ix_x_costs_account_at", "x_costs", ["account", "at"])


def downgrade() -> None:
    op.drop_index("ix_x_costs_account_at", "x_costs")
    op.drop_table("x_costs")
