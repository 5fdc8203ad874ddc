"""Session families: a refresh rotates the session cookie, and a rotated one used again
ends every session of its family.

``family_hash`` is the hash of the family's first session id (``NULL`` on that first
session itself, so a sign-in writes what it wrote before); ``rotated_at`` marks a session
replaced by a refresh, kept until the family expires so that its reuse is recognised.
Existing sessions become families of one. The downgrade drops both columns: every
session is its own again, and a rotated one would be live again, so it deletes those.

Revision ID: 0006_session_families
Revises: 0005_provision_withholding
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_session_families"
down_revision = "0005_provision_withholding"
branch_labels = None
depends_on = None

# Frozen copies of the model's types: a migration must not change when the model does.
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sessions") as sessions:
        sessions.add_column(sa.Column("family_hash", sa.String(64), nullable=True))
        sessions.add_column(sa.Column("rotated_at", Timestamp, nullable=True))
        sessions.create_index("ix_sessions_family_hash", ["family_hash"])


def downgrade() -> None:
    op.execute("DELETE FROM sessions WHERE rotated_at IS NOT NULL")
    with op.batch_alter_table("sessions") as sessions:
        sessions.drop_index("ix_sessions_family_hash")
        sessions.drop_column("rotated_at")
        sessions.drop_column("family_hash")
