"""The records database: subjects, records, consent events, audit log, short-lived state.

Revision ID: 0001_records
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_records"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the model's types: a migration must not change when the model does.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)
Id = sa.String(64)


def _subject_fk(table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["subject_id"], ["subjects.id"], name=f"fk_{table}_subject_id_subjects", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "subjects",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(80), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("address_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("retained_until", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subjects"),
        sa.UniqueConstraint("key_id", name="uq_subjects_key_id"),
        sa.UniqueConstraint("ref", name="uq_subjects_ref"),
    )
    op.create_index("ix_subjects_retained_until", "subjects", ["retained_until"])

    op.create_table(
        "records",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("subject_id", BigId, nullable=False),
        sa.Column("category", Id, nullable=False),
        sa.Column("purpose", Id, nullable=False),
        sa.Column("basis", sa.String(32), nullable=False),
        sa.Column("collected_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("source", Id, nullable=False),
        sa.Column("policy_version", Id, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _subject_fk("records", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
    )
    op.create_index("ix_records_expires_at", "records", ["expires_at"])
    op.create_index(
        "ix_records_subject_purpose_category", "records", ["subject_id", "purpose", "category"]
    )

    op.create_table(
        "consent_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("subject_id", BigId, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("purpose", Id, nullable=True),
        sa.Column("value", sa.Boolean(), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("policy_version", Id, nullable=False),
        _subject_fk("consent_events", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_consent_events"),
    )
    op.create_index("ix_consent_events_subject_id", "consent_events", ["subject_id"])

    op.create_table(
        "audit_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("subject_id", BigId, nullable=True),
        sa.Column("purpose", Id, nullable=True),
        sa.Column("category", Id, nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("policy_version", Id, nullable=False),
        _subject_fk("audit_log", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_subject_id", "audit_log", ["subject_id"])

    op.create_table(
        "nonces",
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("nonce", name="pk_nonces"),
    )
    op.create_index("ix_nonces_expires_at", "nonces", ["expires_at"])

    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("subject_id", BigId, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        _subject_fk("sessions", "CASCADE"),
        sa.PrimaryKeyConstraint("id_hash", name="pk_sessions"),
    )
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_index("ix_sessions_subject_id", "sessions", ["subject_id"])

    op.create_table(
        "rate_counters",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("window_start", Timestamp, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("key_hash", "window_start", name="pk_rate_counters"),
    )
    op.create_index("ix_rate_counters_expires_at", "rate_counters", ["expires_at"])


def downgrade() -> None:
    for table in ("rate_counters", "sessions", "nonces", "audit_log", "consent_events", "records"):
        op.drop_table(table)
    op.drop_table("subjects")
