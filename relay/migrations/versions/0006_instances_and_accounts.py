"""Many instances and many accounts: a claim lease on feeds, and the account each feed posts as.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("claimed_by", sa.String(64)))
    op.create_index("ix_feeds_due", "feeds", ["status", "next_check_at"])
    op.create_index("ix_deliveries_account_due", "deliveries", ["account", "status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_account_due", "deliveries")
    op.drop_index("ix_feeds_due", "feeds")
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("claimed_by")
        batch.drop_column("lease_until")
