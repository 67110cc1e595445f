"""Processed webhook delivery ids (replay protection for the WordPress webhook).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_ids",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("webhook_id", sa.String(255), nullable=False, unique=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_ids")
