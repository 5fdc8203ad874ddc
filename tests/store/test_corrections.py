"""The store's side of the right to correct (APPI Art. 34): what a correction, an
addition and a deletion write, what the change set answers and audits, and that a
subject reaches only their own records."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, NOW
from tests.store.test_sign_in_policy_shapes import abcrecords_with
from walletauth.store import Store, StoreError
from walletauth.store.audit import audit_entries
from walletauth.store.corrections import ChangeOutcome, RecordChange, apply_changes
from walletauth.store.schema import subjects

LATER = NOW + timedelta(days=30)
YEAR = timedelta(days=365)
EDITABLE = frozenset({"contact_email", "application_url", "inquiry"})


def email_of(store: Store, address: str, email: str, now=NOW) -> int:
    return store.put_record(
        address,
        "contact_email",
        "service_provision",
        {"email": email},
        now=now,
        source="application_form",
    )


def kept(store: Store, address: str, when=LATER) -> dict[int, object]:
    return {record.id: record for record in store.subject_records(address, now=when)}


def retained_until(store: Store, address: str):
    with store.engine.connect() as connection:
        ref = store.subject_ref(address)
        return connection.execute(
            sa.select(subjects.c.retained_until).where(subjects.c.ref == ref)
        ).scalar_one()


def test_a_correction_overwrites_the_data_and_restarts_the_records_retention(
    backend, secrets, store
):
    # Written under an earlier version of the policy, corrected under the one in force.
    earlier = abcrecords_with(('version = "1.0"', 'version = "0.9"'))
    before = Store.open(
        backend.url, policy=earlier, secrets=secrets, keystore_url=backend.keystore_url
    )
    try:
        record_id = email_of(before, ALICE, "old@example.com")
    finally:
        before.close()

    outcome = apply_changes(
        store,
        ALICE,
        [
            RecordChange("correct", record_id=record_id, data={"email": "new@example.com"}),
        ],
        editable=EDITABLE,
        now=LATER,
    )

    assert outcome == ChangeOutcome(corrected=1)
    record = kept(store, ALICE)[record_id]
    assert record.data == {"email": "new@example.com"}
    assert (record.collected_at, record.updated_at) == (NOW, LATER)
    assert record.expires_at == LATER + YEAR
    assert record.policy_version == "1.0"
    assert retained_until(store, ALICE) >= LATER + YEAR


def test_an_addition_keeps_the_data_given_as_the_subjects_own_request(store):
    store.record_login(ALICE, 1, now=NOW)

    outcome = apply_changes(
        store,
        ALICE,
        [
            RecordChange(
                "add",
                category="application_url",
                purpose="service_provision",
                data={"url": "https://band.example/demo"},
            ),
        ],
        editable=EDITABLE,
        now=LATER,
    )

    (added,) = outcome.added
    record = kept(store, ALICE)[added]
    assert (record.category, record.purpose) == ("application_url", "service_provision")
    assert record.data == {"url": "https://band.example/demo"}
    assert record.source == "subject_request"
    assert record.expires_at == LATER + YEAR


def test_the_outcome_and_the_audit_entry_count_each_kind_of_change(store):
    first, second, third, fourth = (email_of(store, ALICE, f"{n}@example.com") for n in "abcd")

    outcome = apply_changes(
        store,
        ALICE,
        [
            RecordChange("delete", record_id=first),
            RecordChange("correct", record_id=second, data={"email": "b2@example.com"}),
            RecordChange("correct", record_id=third, data={"email": "c2@example.com"}),
            RecordChange("delete", record_id=fourth),
            RecordChange(
                "add", category="inquiry", purpose="service_provision", data={"message": "hello"}
            ),
        ],
        editable=EDITABLE,
        now=LATER,
    )

    assert (outcome.corrected, len(outcome.added), outcome.deleted) == (2, 1, 2)
    assert set(kept(store, ALICE)) == {second, third, *outcome.added}
    (entry,) = [e for e in audit_entries(store, ALICE) if e.event == "correction"]
    assert entry.subject_ref == store.subject_ref(ALICE)
    assert dict(entry.detail) == {"corrected": 2, "added": 1, "deleted": 2}
    assert entry.at == LATER


@pytest.mark.parametrize("op", ["correct", "delete"])
def test_a_subject_cannot_reach_another_subjects_record_by_its_id(store, op):
    alices = email_of(store, ALICE, "alice@example.com")
    email_of(store, BOB, "bob@example.com")

    outcome = apply_changes(
        store,
        BOB,
        [
            RecordChange(op, record_id=alices, data={"email": "bob@example.com"}),
        ],
        editable=EDITABLE,
        now=LATER,
    )

    assert outcome.refused == [(0, "unknown_record")]
    assert kept(store, ALICE)[alices].data == {"email": "alice@example.com"}


def test_an_address_with_nothing_kept_is_an_unknown_subject(store):
    with pytest.raises(StoreError) as refused:
        apply_changes(
            store, ALICE, [RecordChange("delete", record_id=1)], editable=EDITABLE, now=NOW
        )

    assert refused.value.code == "unknown_subject"
