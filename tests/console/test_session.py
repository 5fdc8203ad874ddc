"""The console's cookie: it opens only as issued, only before its expiry, only under its
key; its CSRF token is the session's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from walletauth.console.session import ConsoleSessions

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def test_a_cookie_opens_as_issued_until_it_expires():
    sessions = ConsoleSessions(b"k" * 32)
    cookie = sessions.issue(ADDRESS, NOW + timedelta(minutes=15))
    opened = sessions.open(cookie, now=NOW)
    assert opened is not None and opened.address == ADDRESS
    assert opened.expires_at == NOW + timedelta(minutes=15)
    assert sessions.open(cookie, now=NOW + timedelta(minutes=15)) is None


def test_a_changed_cookie_or_another_key_opens_nothing():
    sessions = ConsoleSessions(b"k" * 32)
    cookie = sessions.issue(ADDRESS, NOW + timedelta(minutes=15))
    for index in range(len(cookie)):
        flipped = cookie[:index] + ("A" if cookie[index] != "A" else "B") + cookie[index + 1:]
        assert sessions.open(flipped, now=NOW) is None or flipped == cookie
    assert ConsoleSessions(b"j" * 32).open(cookie, now=NOW) is None
    assert sessions.open("", now=NOW) is None and sessions.open("%%%", now=NOW) is None


def test_each_session_has_its_own_csrf_token():
    sessions = ConsoleSessions(b"k" * 32)
    first = sessions.open(sessions.issue(ADDRESS, NOW + timedelta(minutes=1)), now=NOW)
    second = sessions.open(sessions.issue(ADDRESS, NOW + timedelta(minutes=1)), now=NOW)
    assert sessions.csrf_ok(first, sessions.csrf_token(first))
    assert not sessions.csrf_ok(first, sessions.csrf_token(second))
    assert not sessions.csrf_ok(first, None)
    assert sessions.operator_ref(ADDRESS) == sessions.operator_ref(ADDRESS.lower())
    assert ADDRESS[2:].lower() not in sessions.operator_ref(ADDRESS)
