"""Drop ``rate_counters``: rate limits are counted in each worker's memory or in Redis.

Nothing has written the table since the server stopped counting hits in the database;
its rows were fixed-window counters that ran out within minutes, so nothing of value
goes with it. The downgrade brings it back empty, exactly as ``0001_records`` made it.

Revision ID: 0003_drop_rate_counters
Revises: 0002_rights
Create Date: 2026-05-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_drop_rate_counters"
down_revision = "0002_rights"
branch_labels = None
depends_on = None

# Frozen copies of the model's types: a migration must not change when the model does.
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.drop_index("ix_rate_counters_expires_at", table_name="rate_counters")
    op.drop_table("rate_counters")


def downgrade() -> None:
    op.create_table(
        "rate_counters",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("window_start", Timestamp, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("key_hash", "window_start", name="pk_rate_counters"),
    )
    op.create_index("ix_rate_counters_expires_at", "rate_counters", ["expires_at"])
