"""The records database: personal-data records, consent history, audit log, short-lived state.

Everything about one subject hangs off ``subjects.id`` through an indexed foreign key
(``ON DELETE CASCADE``; the audit log ``SET NULL``), so "every record, consent event,
session and audit link of an address" is one indexed lookup and an erasure is one
``DELETE`` in one transaction. No column holds the address in the clear: subjects are
found by ``ref`` (a keyed hash), the address itself is sealed under the subject's key.
"""

from __future__ import annotations

import sqlalchemy as sa

from walletauth.store.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (auto-increment).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Id = sa.String(64)

subjects = sa.Table(
    "subjects",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ref", sa.String(80), nullable=False, unique=True),
    sa.Column("key_id", sa.String(32), nullable=False, unique=True),
    sa.Column("address_sealed", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("retained_until", UTCDateTime, nullable=False, index=True),
)

records = sa.Table(
    "records",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "subject_id", BigId, sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("category", Id, nullable=False),
    sa.Column("purpose", Id, nullable=False),
    sa.Column("basis", sa.String(32), nullable=False),
    sa.Column("collected_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("source", Id, nullable=False),
    sa.Column("policy_version", Id, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Index("ix_records_subject_purpose_category", "subject_id", "purpose", "category"),
)

consent_events = sa.Table(
    "consent_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "subject_id", BigId, sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("purpose", Id, nullable=True),
    sa.Column("value", sa.Boolean, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("policy_version", Id, nullable=False),
    # The digest of the text consented to (Policy.consent_digests); None before 0004.
    sa.Column("text_digest", sa.String(64), nullable=True),
)

policy_announcements = sa.Table(
    "policy_announcements",
    metadata,
    sa.Column("policy_id", Id, primary_key=True),
    sa.Column("version", Id, primary_key=True),
    sa.Column("seen_at", UTCDateTime, nullable=False),
    sa.Column("announced", sa.Boolean, nullable=False),
    # The version's consent digests, to tell which purposes the next version changes.
    sa.Column("digests", sa.JSON, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column(
        "subject_id", BigId, sa.ForeignKey("subjects.id", ondelete="SET NULL"), nullable=True,
        index=True,
    ),
    sa.Column("purpose", Id, nullable=True),
    sa.Column("category", Id, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("policy_version", Id, nullable=False),
)

nonces = sa.Table(
    "nonces",
    metadata,
    sa.Column("nonce", sa.String(128), primary_key=True),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column(
        "subject_id", BigId, sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    # The hash of the family's first session id; NULL on that first session itself.
    sa.Column("family_hash", sa.String(64), nullable=True, index=True),
    # Set when a refresh replaced the session; kept so that its reuse is recognised.
    sa.Column("rotated_at", UTCDateTime, nullable=True),
)

oidc_clients = sa.Table(
    "oidc_clients",
    metadata,
    # Registered ids begin with "_", which a configured id cannot (walletauth.oidc).
    sa.Column("client_id", sa.String(64), primary_key=True),
    # The registered metadata as answered to the client (RFC 7591 3.2.1), secret aside.
    sa.Column("metadata", sa.JSON, nullable=False),
    # Hex SHA-256 of the client's secret; NULL for a public client.
    sa.Column("secret_sha256", sa.String(64), nullable=True),
    sa.Column("issued_at", UTCDateTime, nullable=False),
)
