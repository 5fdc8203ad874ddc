"""Times at the store boundary (walletauth.store.types.require_aware)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletauth.store import StoreError
from walletauth.store.types import require_aware

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
