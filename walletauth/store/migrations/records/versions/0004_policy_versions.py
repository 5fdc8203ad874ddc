"""Policy changes: the text each consent was given to, and the versions announced.

``consent_events.text_digest`` is the digest of the purpose's (or consent ground's) text
a consent event was recorded under (``Policy.consent_digests``); rows written before this
revision have none and are judged by their ``policy_version`` instead.
``policy_announcements`` holds one row per (policy, version) the store has seen: the
first worker to insert a new version's row sends its ``policy.changed`` notice, in the
same transaction, so several workers starting together send it once.

Revision ID: 0004_policy_versions
Revises: 0003_drop_rate_counters
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_policy_versions"
down_revision = "0003_drop_rate_counters"
branch_labels = None
depends_on = None

# Frozen copies of the model's types: a migration must not change when the model does.
Timestamp = sa.DateTime(timezone=True)
Id = sa.String(64)


def upgrade() -> None:
    op.add_column("consent_events", sa.Column("text_digest", sa.String(64), nullable=True))
    op.create_table(
        "policy_announcements",
        sa.Column("policy_id", Id, nullable=False),
        sa.Column("version", Id, nullable=False),
        sa.Column("seen_at", Timestamp, nullable=False),
        sa.Column("announced", sa.Boolean(), nullable=False),
        sa.Column("digests", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("policy_id", "version", name="pk_policy_announcements"),
    )


def downgrade() -> None:
    op.drop_table("policy_announcements")
    with op.batch_alter_table("consent_events") as batch:
        batch.drop_column("text_digest")
