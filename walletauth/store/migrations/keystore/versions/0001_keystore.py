"""The key store: subject data keys wrapped under a master key version.

Revision ID: 0001_keystore
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_keystore"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keystore_subject_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("master_version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_keystore_subject_keys"),
    )
    op.create_index(
        "ix_keystore_subject_keys_master_version", "keystore_subject_keys", ["master_version"]
    )


def downgrade() -> None:
    op.drop_table("keystore_subject_keys")
