"""The OpenID Provider's live grants, so that an erasure, a withdrawn purpose or a
logout at another client of the same sign-in reaches each client holding one (OpenID
Connect Back-Channel Logout 1.0). A new table: nothing existing changes. Grants made
before it were not recorded; their tokens still stop as before, unannounced. The
downgrade drops the table.

Revision ID: 0008_oidc_grants
Revises: 0007_oidc_clients
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_oidc_grants"
down_revision = "0007_oidc_clients"
branch_labels = None
depends_on = None

# Frozen copies of the model's types: a migration must not change when the model does.
Timestamp = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "oidc_grants",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("subject_id", BigId, nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("purposes", sa.JSON, nullable=False),
        sa.Column("notify", sa.Boolean, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("secrets_version", sa.Integer, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oidc_grants"),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name="fk_oidc_grants_subject_id_subjects",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_oidc_grants_subject_id", "oidc_grants", ["subject_id"])
    op.create_index("ix_oidc_grants_session_hash", "oidc_grants", ["session_hash"])
    op.create_index("ix_oidc_grants_expires_at", "oidc_grants", ["expires_at"])


def downgrade() -> None:
    op.drop_table("oidc_grants")
