"""Re-keying after a secrets rotation: refs recomputed, keys re-wrapped, nobody lost."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, CAROL, NOW
from walletauth.store import Store
from walletauth.store.audit import audit_entries
from walletauth.store.keyschema import subject_keys
from walletauth.store.schema import subjects
from walletauth.store.subject_state import consents


def versions_in_use(store: Store) -> tuple[set[str], set[int]]:
    with store.engine.connect() as connection:
        refs = connection.execute(sa.select(subjects.c.ref)).scalars().all()
    with store.keys.engine.connect() as connection:
        wraps = connection.execute(sa.select(subject_keys.c.master_version)).scalars().all()
    return {ref.split(":")[0] for ref in refs}, set(wraps)


def test_subjects_stay_findable_after_rotation_before_and_after_rekeying(store):
    for address in (ALICE, BOB):
        store.record_login(address, 1, now=NOW)
        store.set_consent(address, "partner_guidance", True, now=NOW)
    old_ref = store.subject_ref(ALICE)

    store.secrets = store.keys.secrets = store.secrets.rotate()
    # Not yet re-keyed: found under the old ref, new subjects use the new version.
    assert len(store.records(ALICE, "service_provision", now=NOW)) == 2
    store.record_login("0x" + "4" * 40, 1, now=NOW)
    assert versions_in_use(store) == ({"1", "2"}, {1, 2})

    report = store.rotate_secrets()

    assert (report.subjects, report.keys) == (2, 2)
    assert versions_in_use(store) == ({"2"}, {2})
    assert store.subject_ref(ALICE) != old_ref and store.subject_ref(ALICE).startswith("2:")
    for address in (ALICE, BOB):
        assert len(store.records(address, "service_provision", now=NOW)) == 2
        assert consents(store, address)["partner_guidance"] is True
    assert audit_entries(store, ALICE)[0].subject_ref == store.subject_ref(ALICE)


def test_after_rekeying_the_old_version_can_be_retired(store, backend, abcrecords):
    store.record_login(ALICE, 1, now=NOW)
    rotated = store.secrets.rotate()
    store.rotate_secrets(rotated, batch_size=1)
    retired = rotated.retire(1)
    store.close()

    reopened = Store.open(backend.url, policy=abcrecords, secrets=retired,
                          keystore_url=backend.keystore_url)
    try:
        [wallet] = reopened.records(ALICE, "service_provision", now=NOW + timedelta(days=1),
                                    category="wallet_address")
        assert wallet.data["chain_id"] == 1
        assert reopened.rotate_secrets().subjects == 0
    finally:
        reopened.close()


def test_progress_is_told_per_batch_up_to_what_was_pending(store):
    for address in (ALICE, BOB, CAROL):
        store.record_login(address, 1, now=NOW)
    store.secrets = store.keys.secrets = store.secrets.rotate()
    store.record_login("0x" + "4" * 40, 1, now=NOW)  # already under version 2
    usage = store.secrets_usage()
    assert [(n, u.keys, u.refs) for n, u in usage.items()] == [(1, 3, 3), (2, 1, 1)]
    assert store.pending_rotation() == 6

    ticks: list[int] = []
    report = store.rotate_secrets(batch_size=2, on_progress=ticks.append)

    assert ticks == [2, 1, 2, 1]  # keys, then refs, each batch after it commits
    assert sum(ticks) == 6 and (report.keys, report.subjects) == (3, 3)
    assert store.pending_rotation() == 0
    assert [(n, u.keys, u.refs) for n, u in store.secrets_usage().items()] == [
        (1, 0, 0), (2, 4, 4)]
    store.rotate_secrets(on_progress=ticks.append)
    assert ticks == [2, 1, 2, 1]  # nothing left: never called


def test_the_rotation_is_audited_at_its_time_with_its_counts(store):
    """Found by mutation testing (benchmarks/README.md): ``now`` and the entry's detail."""
    for address in (ALICE, BOB):
        store.record_login(address, 1, now=NOW)

    store.rotate_secrets(store.secrets.rotate(), now=NOW + timedelta(hours=1))

    [entry] = [e for e in audit_entries(store) if e.event == "secrets_rotation"]
    assert (entry.at, entry.subject_ref, dict(entry.detail)) == (
        NOW + timedelta(hours=1), None, {"version": 2, "subjects": 2, "keys": 2})


def key_id_of(store: Store, address: str) -> str:
    with store.engine.connect() as connection:
        return connection.execute(
            sa.select(subjects.c.key_id).where(subjects.c.ref == store.subject_ref(address))
        ).scalar_one()


def test_a_subject_erased_meanwhile_is_passed_over_and_the_rest_re_keyed(store):
    """Its key gone while its row is still read (an erasure committing during the
    re-keying): nothing to re-key it with. In a batch of its own it must not stop the
    paging, in a batch with others it must not stop the batch."""
    for address in (ALICE, BOB, CAROL):
        store.record_login(address, 1, now=NOW)
    store.keys.destroy([key_id_of(store, ALICE)])  # Alice's row comes first
    store.secrets = store.keys.secrets = store.secrets.rotate()

    one_by_one = store.rotate_secrets(batch_size=1)
    store.secrets = store.keys.secrets = store.secrets.rotate()
    all_at_once = store.rotate_secrets(batch_size=10)

    assert (one_by_one.subjects, all_at_once.subjects) == (2, 2)
    for address in (BOB, CAROL):
        assert store.subject_ref(address).startswith("3:")
        assert len(store.records(address, "service_provision", now=NOW)) == 2


def test_subjects_changed_since_they_were_made_are_re_keyed_in_every_batch(store):
    """Pages follow the subject id: PostgreSQL writes an updated row after the others, so
    a page without ORDER BY would end on a higher id and the next skip the updated one."""
    for address in (ALICE, BOB, CAROL):
        store.record_login(address, 1, now=NOW)
    store.record_login(ALICE, 1, now=NOW + timedelta(days=1))  # moves retained_until

    report = store.rotate_secrets(store.secrets.rotate(), batch_size=2)

    assert report.subjects == 3
    assert store.pending_rotation() == 0
