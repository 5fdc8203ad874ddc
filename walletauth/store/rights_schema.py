"""Tables of the subject's rights: the requests log, third-party provisions, notice outbox.

They share the records database's metadata (and its Alembic history, revision
``0002_rights``). ``rights_requests`` is keyed by the subject's ref, not by the subject
row, so that a receipt outlives the erasure it records; it holds no personal data
beyond that keyed ref. ``third_party_provisions`` hang off the subject row and go with
it. ``notice_outbox`` rows hold only what a notice needs, the address sealed under a
key derived from the master secret, and are deleted once delivered. ``oidc_grants``
are the OpenID Provider's grants still able to make tokens (see
:mod:`walletauth.store.oidc_grants`): they hang off the subject row, hold the session
and what a logout token names sealed, and go when the grant ends.
"""

from __future__ import annotations

import sqlalchemy as sa

from walletauth.store.schema import BigId, Id, metadata
from walletauth.store.types import UTCDateTime

rights_requests = sa.Table(
    "rights_requests",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("subject_ref", sa.String(80), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("completed_at", UTCDateTime, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
)

third_party_provisions = sa.Table(
    "third_party_provisions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "subject_id", BigId, sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("recipient", sa.String(200), nullable=False),
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("ground", Id, nullable=False),
    sa.Column("provided_at", UTCDateTime, nullable=False),
    sa.Column("policy_version", Id, nullable=False),
    # A statutory ground the record is withheld from the subject's disclosure on (APPI
    # Art. 33(2), (5)); the export then says so, without the record's contents.
    sa.Column("withheld", sa.String(64), nullable=True),
)

notice_outbox = sa.Table(
    "notice_outbox",
    metadata,
    sa.Column("notice_id", sa.String(128), primary_key=True),
    sa.Column("endpoint", Id, primary_key=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("subject_sealed", sa.LargeBinary, nullable=False),
    sa.Column("secrets_version", sa.Integer, nullable=False),
    sa.Column("purposes", sa.JSON, nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("policy_id", Id, nullable=False),
    sa.Column("policy_version", Id, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False, index=True),
    sa.Column("last_error", sa.String(64), nullable=True),
)

oidc_grants = sa.Table(
    "oidc_grants",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "subject_id", BigId, sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("client_id", Id, nullable=False),
    # SHA-256 of the OpenID Provider's session (the ID token's sid): a leaked table names
    # no sid a logout could be asked for with.
    sa.Column("session_hash", sa.String(64), nullable=False, index=True),
    sa.Column("purposes", sa.JSON, nullable=False),
    # Whether the client registered for back-channel logout (its sub is then sealed here).
    sa.Column("notify", sa.Boolean, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("secrets_version", sa.Integer, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)
