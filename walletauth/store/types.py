"""Column types shared by the records database and the key store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from walletauth.store.errors import StoreError


def require_aware(moment: datetime, name: str = "now") -> datetime:
    """Times cross the store boundary timezone-aware, and are kept in UTC."""
    if type(moment) is datetime and moment.tzinfo is UTC:
        return moment  # what astimezone(UTC) gives for it; most times are UTC already
    if not isinstance(moment, datetime):
        raise StoreError("invalid_argument", f"{name} must be a datetime, got {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise StoreError("naive_datetime", f"{name} must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """``timestamptz`` on PostgreSQL; naive UTC text on SQLite, given back aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = require_aware(value, "time")
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _aware_to_utc(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def utc_reader(dialect: Dialect) -> Callable[[Any], datetime]:
    """What :class:`UTCDateTime` makes of a non-null value the driver read, for code that
    reads rows on the driver itself. psycopg gives ``timestamptz`` back aware already (in
    the session's zone): one call, where the type's processor takes three. Others (SQLite's
    text) go through the type's own processor."""
    if dialect.name == "postgresql":
        return _aware_to_utc
    process = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    if process is None:
        raise TypeError("UTCDateTime lost its time conversion for this dialect")
    return cast("Callable[[Any], datetime]", process)  # never None for a non-null value
