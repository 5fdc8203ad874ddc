"""Times at the store boundary (walletauth.store.types.require_aware) and as read back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from walletauth.store import StoreError
from walletauth.store.types import UTCDateTime, require_aware, utc_reader

_ZONES = st.just(UTC) | st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31),
                    timezones=_ZONES))
def test_an_aware_time_is_kept_as_the_same_moment_in_utc(moment):
    kept = require_aware(moment)
    assert kept == moment
    assert kept.tzinfo is UTC
    assert kept.isoformat() == moment.astimezone(UTC).isoformat()


class _Moment(datetime):
    """A datetime subclass: taken as any other aware time."""


def test_a_datetime_subclass_in_utc_is_taken_as_a_datetime():
    moment = _Moment(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert require_aware(moment) == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "code"), [
    (datetime(2026, 3, 1, 12, 0), "naive_datetime"),
    (date(2026, 3, 1), "invalid_argument"),
    ("2026-03-01T12:00:00+00:00", "invalid_argument"),
])
def test_anything_but_an_aware_datetime_is_refused(value, code):
    with pytest.raises(StoreError) as refused:
        require_aware(value)
    assert refused.value.code == code


_DIALECTS = {"postgresql": postgresql.psycopg.dialect(), "sqlite": sqlite.pysqlite.dialect()}


def _type_reads(dialect_name: str) -> Callable[[object], datetime]:
    dialect = _DIALECTS[dialect_name]
    process = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert process is not None
    return process


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31),
                    timezones=_ZONES | st.just(ZoneInfo("Etc/UTC")) | st.just(
                        ZoneInfo("Asia/Tokyo"))))
def test_a_time_read_on_the_driver_is_what_the_column_type_reads(moment):
    """utc_reader (for rows read on the DBAPI cursor) against UTCDateTime's own result
    processing: PostgreSQL's driver gives aware times in the session's zone, SQLite's
    the naive UTC text the type wrote."""
    sqlite_text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    for dialect_name, value in (("postgresql", moment), ("sqlite", sqlite_text)):
        read = utc_reader(_DIALECTS[dialect_name])(value)
        expected = _type_reads(dialect_name)(value)
        assert read == expected == moment
        assert read.tzinfo is expected.tzinfo is UTC
