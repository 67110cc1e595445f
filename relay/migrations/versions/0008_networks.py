"""Other networks: each delivery names its network, keeps the address of the post it made and the
network's own parts of its text (Bluesky's links and tags), and an id long enough for an AT URI.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("network", sa.String(16), nullable=False, server_default="x"))
        batch.add_column(sa.Column("remote_url", sa.String(2048)))
        batch.add_column(sa.Column("extra", sa.JSON))
        batch.alter_column("tweet_id", type_=sa.String(512), existing_type=sa.String(32))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("tweet_id", type_=sa.String(32), existing_type=sa.String(512))
        batch.drop_column("extra")
        batch.drop_column("remote_url")
        batch.drop_column("network")
