"""Retention periods as policy files write them: ``"<whole number><unit>"``.

Units are ``d`` (days), ``w`` (weeks) and ``y`` (years of 365 days), e.g. ``"30d"``,
``"12w"``, ``"1y"``. Months are left out on purpose: "30m" reads as minutes to some and
months to others, and a month has no fixed length. A retention is counted from the
record's last update (for the wallet record: the last sign-in).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final, Literal

DAYS_PER_UNIT: Final[dict[str, int]] = {"d": 1, "w": 7, "y": 365}
_DURATION = re.compile(r"(?P<amount>[0-9]{1,6})(?P<unit>[dwy])")

Lang = Literal["ja", "en"]


def parse_duration(text: str) -> timedelta:
    """``"90d"`` -> ``timedelta(days=90)``; anything else raises ``ValueError``."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration: write a whole number of days, weeks or years"
            " such as '90d', '12w' or '1y' (1y = 365d)"
        )
    return timedelta(days=int(match["amount"]) * DAYS_PER_UNIT[match["unit"]])


def whole_days(duration: timedelta) -> int:
    """The duration in days, rounded up: a record is never said to live shorter than it does."""
    day = timedelta(days=1)
    return -(-duration // day)


_UNIT_NAMES: Final[dict[Lang, tuple[str, str, str, str]]] = {
    # (year, years, day, days)
    "en": (" year", " years", " day", " days"),
    "ja": ("年", "年", "日", "日"),
}


def humanise(duration: timedelta, lang: Lang) -> str:
    """``timedelta(days=365)`` -> "1 year" / "1年"; other lengths in days."""
    days = whole_days(duration)
    year, years, day, plural_days = _UNIT_NAMES[lang]
    if days % 365 == 0:
        count = days // 365
        return f"{count}{year if count == 1 else years}"
    return f"{days}{day if days == 1 else plural_days}"
