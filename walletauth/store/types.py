"""Column types shared by the records database and the key store."""

from __future__ import annotations

from datetime import UTC, datetime

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
