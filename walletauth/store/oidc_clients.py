"""OpenID Connect clients registered over RFC 7591: kept in the records database so that
every worker (and every server on one PostgreSQL) knows a client any of them registered.

The store keeps what it is given and checks only its shape: what a client may register
is :mod:`walletauth.oidc.registration`'s to decide. A client is never changed once
registered; its secret is kept only as a SHA-256 (the secret itself is high-entropy).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from walletauth.store.errors import StoreError
from walletauth.store.handle import StoreHandle
from walletauth.store.schema import oidc_clients
from walletauth.store.sql import upsert
from walletauth.store.types import require_aware

MAX_CLIENT_ID: Final = 64
MAX_METADATA_BYTES: Final = 16384
_HEX_DIGEST: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredClient:
    client_id: str
    metadata: dict[str, Any]
    secret_sha256: str | None
    issued_at: datetime


def register_oidc_client(
    store: StoreHandle,
    client_id: str,
    metadata: Mapping[str, Any],
    secret_sha256: str | None,
    *,
    now: datetime,
) -> bool:
    """Keep a newly registered client; False (and nothing written) if ``client_id`` is
    taken already, which a random id makes a never-seen case but not an overwrite."""
    now = require_aware(now)
    if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID:
        raise StoreError("invalid_argument", f"a client id is 1-{MAX_CLIENT_ID} characters")
    if secret_sha256 is not None and not (
        isinstance(secret_sha256, str) and _HEX_DIGEST.fullmatch(secret_sha256)
    ):
        raise StoreError("invalid_argument", "secret_sha256 is 64 lower-case hex digits")
    try:
        size = len(json.dumps(dict(metadata), allow_nan=False).encode())
    except (TypeError, ValueError) as error:
        raise StoreError("invalid_argument", "client metadata is a JSON object") from error
    if size > MAX_METADATA_BYTES:
        raise StoreError(
            "invalid_argument", f"client metadata is at most {MAX_METADATA_BYTES} bytes of JSON"
        )
    with store.engine.begin() as connection:
        inserted = connection.execute(
            upsert(connection, oidc_clients)
            .values(
                client_id=client_id,
                metadata=dict(metadata),
                secret_sha256=secret_sha256,
                issued_at=now,
            )
            .on_conflict_do_nothing(index_elements=[oidc_clients.c.client_id])
            .returning(oidc_clients.c.client_id)
        ).scalar_one_or_none()
    return inserted is not None


def oidc_client(store: StoreHandle, client_id: str) -> StoredClient | None:
    """The registered client ``client_id``, or None."""
    if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID:
        return None
    with store.reader.begin() as connection:
        row = connection.execute(
            sa.select(oidc_clients).where(oidc_clients.c.client_id == client_id)
        ).one_or_none()
    if row is None:
        return None
    return StoredClient(row.client_id, dict(row.metadata), row.secret_sha256, row.issued_at)
