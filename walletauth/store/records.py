"""Personal-data records as callers see them, and how their data is sealed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from walletauth.store.crypto import seal, unseal
from walletauth.store.errors import StoreError


@dataclass(frozen=True, slots=True)
class Record:
    """One record, kept for one purpose, already minimised and decrypted."""

    id: int
    category: str
    purpose: str
    basis: str
    collected_at: datetime
    expires_at: datetime
    source: str
    data: Mapping[str, object]
    updated_at: datetime
    policy_version: str


def _associated(category: str, purpose: str) -> bytes:
    # Binds the ciphertext to its category and purpose: a row edited to claim another
    # purpose no longer opens.
    return f"walletauth record {category} {purpose}".encode()


def seal_data(key: bytes, category: str, purpose: str, data: Mapping[str, object]) -> bytes:
    try:
        plain = json.dumps(dict(data), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            "invalid_field_value", f"record data must be JSON values (text, numbers...): {exc}"
        ) from None
    return seal(key, plain.encode("utf-8"), _associated(category, purpose))


def open_data(key: bytes, category: str, purpose: str, sealed: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(unseal(key, sealed, _associated(category, purpose)))
    return data


def open_record(row: Any, key: bytes) -> Record:
    """A ``records`` row as a :class:`Record`, its data opened with the subject's key."""
    return Record(
        id=row.id,
        category=row.category,
        purpose=row.purpose,
        basis=row.basis,
        collected_at=row.collected_at,
        expires_at=row.expires_at,
        source=row.source,
        data=open_data(key, row.category, row.purpose, row.data),
        updated_at=row.updated_at,
        policy_version=row.policy_version,
    )
