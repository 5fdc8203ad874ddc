"""A sign-in that waits on the subject's lock behind a withdrawal of consent writes what
the state after the withdrawal allows, interleaved for real on PostgreSQL, on the
sign-in's own statements (:mod:`walletauth.store.login_sql`): alone (``record_login``,
``sign_in_many``) and in a batch (``record_logins``).

The withdrawal is held after it appended its event (and so holds the subject's row) by a
lock on the audit log, which it writes last; the sign-in then waits on the subject's row;
the audit log is released (as in test_state_under_lock.py). Read in the locking statement
itself, the consent history was the one of before the withdrawal: that statement's
snapshot is taken before it waits, and only the locked row is read again once the lock
is granted. On SQLite the withdrawal's ``BEGIN IMMEDIATE`` holds every other writer off
until it commits: nothing to interleave.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.store.conftest import ALICE, BOB, NOW
from tests.store.test_record_logins import run_alone, sign_in
from tests.store.test_state_under_lock import change_then_write
from walletauth.store import Store

__all__ = ["run_alone"]  # the fixture, shared with test_record_logins

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

LATER = NOW + timedelta(hours=1)


def logs(store: Store, address: str, purpose: str) -> int:
    """The subject's access-log records kept for ``purpose``."""
    return sum(
        1
        for r in store.subject_records(address, now=LATER)
        if (r.category, r.purpose) == ("access_log", purpose)
    )


def marketing_logs(store: Store, address: str) -> int:
    """The subject's access-log records kept for the optional ``quality_marketing``."""
    return logs(store, address, "quality_marketing")


def signed_in(store: Store, address: str) -> bool:
    """The sign-in after the withdrawal wrote (its third access-log record for signing
    in), so a sign-in that wrote nothing does not pass for one that honoured it."""
    return logs(store, address, "service_provision") == 3


def consenting(store: Store, *addresses: str) -> None:
    """Returning wallets that consented to ``quality_marketing``: a sign-in keeps an
    access-log record for it."""
    for address in addresses:
        store.record_login(address, 1, now=NOW)
        store.set_consent(address, "quality_marketing", True, now=NOW)
        store.record_login(address, 1, now=NOW)
        assert marketing_logs(store, address) == 1


def withdraw_then_sign_in(
    store: Store, pool: ThreadPoolExecutor, signing_in: Callable[[], object]
) -> object:
    """ALICE's withdrawal of ``quality_marketing`` holds her row while ``signing_in``
    starts and waits on it; then the withdrawal commits. ``signing_in``'s result."""
    waiting = change_then_write(
        store,
        pool,
        lambda: store.set_consent(ALICE, "quality_marketing", False, now=LATER),
        signing_in,
    )
    return waiting.result(timeout=30)


def test_a_sign_in_waiting_on_a_withdrawal_keeps_nothing_for_the_purpose(store, pool):
    consenting(store, ALICE)

    withdraw_then_sign_in(
        store, pool, lambda: store.record_login(ALICE, 1, now=LATER, ip="192.0.2.1")
    )

    assert store.consents(ALICE)["quality_marketing"] is False
    assert signed_in(store, ALICE)
    assert marketing_logs(store, ALICE) == 1  # the one from before the withdrawal


def test_a_sign_in_with_its_nonce_waiting_on_a_withdrawal_keeps_nothing_for_it(store, pool):
    consenting(store, ALICE)
    later = replace(sign_in(ALICE, "alice-later"), now=LATER)

    (outcome,) = withdraw_then_sign_in(  # type: ignore[misc]
        store, pool, lambda: store.sign_in_many([later])
    )

    assert outcome.result() is True
    assert signed_in(store, ALICE)
    assert marketing_logs(store, ALICE) == 1


def test_a_batch_waiting_on_a_withdrawal_keeps_nothing_for_the_purpose(store, pool, run_alone):
    consenting(store, ALICE, BOB)
    run_alone.clear()
    batch = [replace(sign_in(a, name), now=LATER) for a, name in ((ALICE, "a"), (BOB, "b"))]

    outcomes = withdraw_then_sign_in(store, pool, lambda: store.record_logins(batch))

    assert [outcome.result() for outcome in outcomes] == [True, True]  # type: ignore[attr-defined]
    assert run_alone == []  # both in the batch's one transaction
    assert signed_in(store, ALICE) and signed_in(store, BOB)
    assert marketing_logs(store, ALICE) == 1
    assert marketing_logs(store, BOB) == 2  # BOB withdrew nothing
