"""A write that decides on the subject's state under its lock (a third-party provision, a
guardian's withdrawal) sees a change of that state committed by the transaction whose
lock it waited for, interleaved for real on PostgreSQL.

The change is held after it appended its event (and so holds the subject's row) by a
lock on the audit log, which it writes last; the write under test then waits on the
subject's row; the audit log is released. Read in the locking statement itself, the
state was the one of before the change: that statement's snapshot is taken before it
waits (found from a mutation survivor of ``record_provision``'s ``lock=True``;
benchmarks/README.md, "Mutation testing"). On SQLite the change's ``BEGIN IMMEDIATE``
holds every other writer off until it commits: nothing to interleave.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, NOW
from tests.store.test_erasure_retained import metalive
from tests.store.test_purge_races import PATIENCE, until, waiting_statements
from walletauth.store import Store, StoreError
from walletauth.store.audit import audit_entries
from walletauth.store.provisions import record_provision
from walletauth.store.rights_schema import third_party_provisions
from walletauth.store.schema import subjects
from walletauth.store.subject_state import stop_third_party

__all__ = ["metalive"]  # the fixture, shared with test_erasure_retained

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def change_then_write(
    store: Store,
    pool: ThreadPoolExecutor,
    change: Callable[[], None],
    write: Callable[[], None],
) -> Future:
    """Run ``change`` until it waits on the audit log, then ``write`` until it waits on
    the subject's row, then let both go; returns ``write``'s future (``change`` done)."""
    with store.engine.connect() as audit_lock:
        audit_lock.execute(sa.text("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE"))
        changing = pool.submit(change)
        until(
            lambda: any(
                s.startswith("INSERT INTO audit_log") for s in waiting_statements(store.engine)
            ),
            "the change to wait on the audit log",
        )
        writing = pool.submit(write)
        until(
            lambda: writing.done() or len(waiting_statements(store.engine)) == 2,
            "the write to wait on the subject's row",
        )
        audit_lock.rollback()
    changing.result(timeout=PATIENCE)
    return writing


def test_a_provision_waiting_on_a_stop_of_third_party_provision_is_refused(metalive, pool):
    metalive.record_login(ALICE, 1, now=NOW)
    metalive.confirm_age(ALICE, under_guardian_age=False, now=NOW)
    metalive.set_consent(ALICE, "prior_consent", True, now=NOW)

    providing = change_then_write(
        metalive,
        pool,
        lambda: stop_third_party(metalive, ALICE, True, now=NOW),
        lambda: record_provision(
            metalive, ALICE, "Partner KK", ["contact_email"], "prior_consent", now=NOW
        ),
    )

    with pytest.raises(StoreError) as refused:
        providing.result(timeout=PATIENCE)
    assert refused.value.code == "third_party_stopped"
    with metalive.engine.connect() as connection:
        provisions = connection.execute(
            sa.select(sa.func.count()).select_from(third_party_provisions)
        ).scalar_one()
    assert provisions == 0
    assert [e.event for e in audit_entries(metalive, ALICE)][-1] == "third_party_stop"


def test_a_guardians_withdrawal_waiting_on_a_consent_names_that_purpose_too(metalive, pool):
    metalive.record_login(ALICE, 1, now=NOW)
    metalive.confirm_age(ALICE, under_guardian_age=True, now=NOW)
    metalive.set_guardian_consent(ALICE, True, now=NOW, method="signed_form")
    metalive.set_consent(ALICE, "analytics_marketing", True, now=NOW)
    asked: list[tuple[str, ...]] = []

    def notices(purposes):
        asked.append(tuple(purposes))
        return ()

    withdrawing = change_then_write(
        metalive,
        pool,
        lambda: metalive.set_consent(ALICE, "advertising", True, now=NOW),
        lambda: metalive.set_guardian_consent(ALICE, False, now=NOW, withdrawal_notices=notices),
    )

    withdrawing.result(timeout=PATIENCE)
    assert asked == [("analytics_marketing", "advertising")]


def test_a_read_of_the_subject_answers_while_a_writer_holds_its_row(store, pool):
    """Reads take no row lock (``find_subject``): a person's records, consents and audit
    entries are answered while a write holds their subject, as of before that write."""
    store.record_login(ALICE, 1, now=NOW)
    with store.engine.connect() as writer:
        writer.execute(
            sa.select(subjects.c.id)
            .where(subjects.c.ref == store.subject_ref(ALICE))
            .with_for_update()
        )
        reading = pool.submit(lambda: store.records(ALICE, "service_provision", now=NOW))
        assert len(reading.result(timeout=PATIENCE)) == 2  # the wallet and the access log
        writer.rollback()
