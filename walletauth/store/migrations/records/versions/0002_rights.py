"""The subject's rights: requests log, third-party provisions, notice outbox.

Revision ID: 0002_rights
Revises: 0001_records
Create Date: 2026-05-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_rights"
down_revision = "0001_records"
branch_labels = None
depends_on = None

# Frozen copies of the model's types: a migration must not change when the model does.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
Id = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("subject_ref", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("completed_at", Timestamp, nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rights_requests"),
    )
    op.create_index("ix_rights_requests_subject_ref", "rights_requests", ["subject_ref"])
    op.create_table(
        "third_party_provisions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("subject_id", BigId, nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("ground", Id, nullable=False),
        sa.Column("provided_at", Timestamp, nullable=False),
        sa.Column("policy_version", Id, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_third_party_provisions"),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"],
            name="fk_third_party_provisions_subject_id_subjects", ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_third_party_provisions_subject_id", "third_party_provisions", ["subject_id"]
    )
    op.create_table(
        "notice_outbox",
        sa.Column("notice_id", sa.String(128), nullable=False),
        sa.Column("endpoint", Id, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("subject_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("secrets_version", sa.Integer(), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.Column("policy_id", Id, nullable=False),
        sa.Column("policy_version", Id, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("last_error", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("notice_id", "endpoint", name="pk_notice_outbox"),
    )
    op.create_index("ix_notice_outbox_next_attempt_at", "notice_outbox", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("notice_outbox")
    op.drop_table("third_party_provisions")
    op.drop_table("rights_requests")
