"""Personal-data records as callers see them, how their data is minimised and sealed, and
how one is written (shared by :class:`~walletauth.store.Store` and the subject's rights)."""

from __future__ import annotations

import functools
import json
import json.scanner
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from walletauth.policy.evaluate import minimise
from walletauth.store.crypto import derived_key, seal, seal_many, unseal, unseal_many
from walletauth.store.errors import StoreError
from walletauth.store.schema import records
from walletauth.store.subjects import retain_until
from walletauth.store.types import utc_reader

if TYPE_CHECKING:
    from walletauth.policy.model import Policy
    from walletauth.store.secrets import Secrets

_FIELD_HASH_DOMAIN = b"walletauth field hash"

# What json.dumps(..., sort_keys=True, separators=(",", ":"), allow_nan=False) builds on
# every call; built once, it seals a record about 2 us faster.
_RECORD_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)

# The scanner of json.loads's own decoder (its default arguments), see read_json. (typeshed
# types make_scanner's argument as the scanner class; it takes the decoder.)
_SCAN_JSON: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    json.JSONDecoder())  # type: ignore[arg-type]

# Built once and reused with new parameters: SQLAlchemy then neither rebuilds it nor
# recomputes its cache key per call.
_INSERT_RECORD = sa.insert(records).returning(records.c.id)


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


def _plain(data: Mapping[str, object]) -> bytes:
    try:
        return _RECORD_JSON.encode(dict(data)).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise StoreError(
            "invalid_field_value", f"record data must be JSON values (text, numbers...): {exc}"
        ) from None


def seal_data(key: bytes, category: str, purpose: str, data: Mapping[str, object]) -> bytes:
    return seal(key, _plain(data), _associated(category, purpose))


def seal_data_many(
    key: bytes, items: Iterable[tuple[str, str, Mapping[str, object]]]
) -> list[bytes]:
    """:func:`seal_data` of each ``(category, purpose, data)`` of one subject, the key's
    cipher built once: for bulk loaders (``benchmarks/bigdata.py``)."""
    return seal_many(key, [(_plain(data), _associated(category, purpose))
                           for category, purpose, data in items])


def open_data(key: bytes, category: str, purpose: str, sealed: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(unseal(key, sealed, _associated(category, purpose)))
    return data


def open_records(rows: Iterable[Any], key: bytes) -> list[Record]:
    """One subject's ``records`` rows as :class:`Record` objects, their data opened with
    the subject's key: its cipher built once for the call
    (:func:`~walletauth.store.crypto.unseal_many`), each category and purpose's associated
    bytes once."""
    rows = list(rows)
    plain = _open_all(key, [(row.category, row.purpose, row.data) for row in rows])
    return [
        Record(id=row.id, category=row.category, purpose=row.purpose, basis=row.basis,
               collected_at=row.collected_at, expires_at=row.expires_at, source=row.source,
               data=json.loads(data), updated_at=row.updated_at,
               policy_version=row.policy_version)
        for row, data in zip(rows, plain, strict=True)
    ]


def _open_all(key: bytes, sealed: list[tuple[str, str, bytes]]) -> list[bytes]:
    """Each ``(category, purpose, data)``'s data opened under one subject's key."""
    associated: dict[tuple[str, str], bytes] = {}
    items = []
    for category, purpose, data in sealed:
        pair = (category, purpose)
        bound = associated.get(pair)
        if bound is None:
            bound = associated[pair] = _associated(category, purpose)
        items.append((data, bound))
    return unseal_many(key, items)


_SELECT_SUBJECT_RECORDS = (
    "SELECT id, category, purpose, basis, collected_at, updated_at, expires_at, source,"
    " policy_version, data FROM records WHERE subject_id = ? ORDER BY id"
)
_UTC_SESSION = "SET LOCAL TimeZone = 'UTC'"
"""PostgreSQL: the session's zone for the rest of the transaction only."""


@dataclass(frozen=True, slots=True)
class SealedRecords:
    """A subject's ``records`` rows as the driver gave them (:func:`fetch_subject_records`),
    still sealed, with the function that reads their times as :class:`UTCDateTime` does."""

    rows: Sequence[Any]
    utc: Callable[[Any], datetime]


def fetch_subject_records(connection: sa.Connection, subject_id: int) -> SealedRecords:
    """Every ``records`` row of the subject, oldest first, in ``connection``'s transaction
    and on its DBAPI cursor.

    Why not through Core: a disclosure reads all of a subject's rows (10,000 of them take
    ``benchmarks/rights.py``), and Core's rows and its per-value processing of the three
    time columns cost more CPU than reading and opening them through the driver
    (``benchmarks/README.md``). The times are converted by :func:`utc_reader`, to exactly
    what the column type gives back."""
    text = _SELECT_SUBJECT_RECORDS
    if connection.dialect.paramstyle != "qmark":
        text = text.replace("?", "%s")
    cursor = connection.connection.cursor()
    try:
        if connection.dialect.name == "postgresql":
            # The driver then gives the times in UTC itself (datetime.UTC, which utc_reader
            # passes through), not in the session's zone for utc_reader to convert: one
            # round trip for 30,000 conversions at 10,000 records. Until the transaction ends.
            cursor.execute(_UTC_SESSION)
        cursor.execute(text, (subject_id,))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return SealedRecords(rows, utc_reader(connection.dialect))


def open_sealed(sealed: SealedRecords, key: bytes) -> list[Record]:
    """:func:`open_records` of the rows :func:`fetch_subject_records` read.

    Per row, the cheapest calls that give the same values: :class:`Record` built with
    positional arguments (about 1 us less than by keyword, its frozen ``__init__`` being
    the larger part of a row's cost; tests/store/test_dossier.py holds them to the
    keyword-built records of :func:`open_records`), and the JSON read by :func:`read_json`."""
    rows, utc = sealed.rows, sealed.utc
    plain = _open_all(key, [(row[1], row[2], row[9]) for row in rows])
    return [
        Record(id_, category, purpose, basis, utc(collected_at), utc(expires_at), source,
               read_json(data), utc(updated_at),
               policy_version)
        for (id_, category, purpose, basis, collected_at, updated_at, expires_at, source,
             policy_version, _sealed), data in zip(rows, plain, strict=True)
    ]


def read_json(data: bytes) -> Any:
    """``json.loads(data)``, about 1.3 us less per value for what :func:`_plain` writes
    (one JSON value in UTF-8, nothing around it): its text read by the scanner alone,
    without ``json.loads``'s encoding detection, two whitespace matches and three Python
    calls. Whatever the scanner does not read whole (whitespace around the value, text
    after it, a byte-order mark, UTF-16 or 32, no JSON) goes to ``json.loads`` itself."""
    try:
        text = data.decode("utf-8", "surrogatepass")
        value, end = _SCAN_JSON(text, 0)
        if end == len(text):
            return value
    except (StopIteration, ValueError):  # JSONDecodeError, UnicodeDecodeError
        pass
    return json.loads(data)


def minimised(
    policy: Policy, secrets: Secrets, category: str, data: Mapping[str, object]
) -> dict[str, object]:
    """``data`` as the policy lets ``category`` keep it; hashed fields use the current key."""
    hash_key = _field_hash_key(secrets.current.subject_hmac_key)
    return minimise(policy, category, data, hash_key=hash_key)


@functools.lru_cache(maxsize=1)
def _field_hash_key(subject_hmac_key: bytes) -> bytes:
    """Derived once per secrets version, not per record: only the current version's key is
    asked for, so one entry suffices (it holds a server key, never a subject's key)."""
    return derived_key(subject_hmac_key, _FIELD_HASH_DOMAIN)


def insert_record(
    connection: sa.Connection,
    policy: Policy,
    subject_id: int,
    key: bytes,
    category: str,
    purpose: str,
    data: Mapping[str, object],
    now: datetime,
    source: str,
    *,
    retain: bool = True,
) -> int:
    """Insert a sealed record; ``retain`` keeps the subject until it expires (a caller
    writing several records may do that once, for the latest)."""
    expires_at = now + policy.retention(category, purpose)
    record_id: int = connection.execute(_INSERT_RECORD, {
        "subject_id": subject_id,
        "category": category,
        "purpose": purpose,
        "basis": policy.purpose(purpose).basis,
        "collected_at": now,
        "updated_at": now,
        "expires_at": expires_at,
        "source": source,
        "policy_version": policy.version,
        "data": seal_data(key, category, purpose, data),
    }).scalar_one()
    if retain:
        retain_until(connection, subject_id, expires_at)
    return record_id
