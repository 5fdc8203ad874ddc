"""The key store: each subject's data key, wrapped under a master key version.

It lives apart from the records (another SQLite file, or another PostgreSQL URL) so
that deleting a subject's key here makes every copy of that subject's records
unreadable, backups of the records database included. It holds no subject ref and no
address: only a random key id that the subject row points at.
"""

from __future__ import annotations

import sqlalchemy as sa

from walletauth.store.schema import NAMING_CONVENTION
from walletauth.store.types import UTCDateTime

keystore_metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

subject_keys = sa.Table(
    "keystore_subject_keys",
    keystore_metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("master_version", sa.Integer, nullable=False, index=True),
    sa.Column("wrapped", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
