"""Consent as an append-only history; the subject's state derived from it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.store.conftest import ALICE, BOB, NOW, table_counts
from walletauth.policy.loader import load_policy
from walletauth.store import ConsentEvent, Store, StoreError
from walletauth.store.audit import audit_entries
from walletauth.store.subject_state import consents, lift_suspension, stop_third_party, suspend


def test_the_history_keeps_every_change_with_its_time_and_policy_version(store):
    store.set_consent(ALICE, "partner_guidance", True, now=NOW)
    store.set_consent(ALICE, "partner_guidance", False, now=NOW + timedelta(days=1))
    store.set_consent(ALICE, "quality_marketing", True, now=NOW + timedelta(days=2))

    digests = store.policy.consent_digests()  # the words each consent was given to
    guidance, marketing = digests["partner_guidance"], digests["quality_marketing"]
    assert store.consent_history(ALICE) == [
        ConsentEvent("consent", "partner_guidance", True, NOW, "1.0", guidance),
        ConsentEvent("consent", "partner_guidance", False, NOW + timedelta(days=1), "1.0",
                     guidance),
        ConsentEvent("consent", "quality_marketing", True, NOW + timedelta(days=2), "1.0",
                     marketing),
    ]
    assert consents(store, ALICE) == {
        "service_provision": True, "quality_marketing": True, "partner_guidance": False,
    }


def test_a_subject_never_seen_has_the_policys_defaults(store):
    assert consents(store, BOB) == {
        "service_provision": True, "quality_marketing": False, "partner_guidance": False,
    }
    assert store.consent_history(BOB) == []
    assert store.subject_state(BOB).suspended == frozenset()


def test_the_state_folds_consents_suspensions_and_stops(store):
    store.set_consent(ALICE, "quality_marketing", True, now=NOW)
    suspend(store, ALICE, "quality_marketing", now=NOW)
    suspend(store, ALICE, "service_provision", now=NOW)
    lift_suspension(store, ALICE, "service_provision", now=NOW)
    stop_third_party(store, ALICE, True, now=NOW)

    state = store.subject_state(ALICE)

    assert state.consents == {"quality_marketing": True}
    assert state.suspended == frozenset({"quality_marketing"})
    assert state.third_party_stopped is True
    assert [event.kind for event in store.consent_history(ALICE)] == [
        "consent", "suspension", "suspension", "suspension", "third_party_stop",
    ]


def test_consent_cannot_be_changed_for_a_necessary_purpose(store):
    before = table_counts(store)

    with pytest.raises(StoreError) as refused:
        store.set_consent(ALICE, "service_provision", False, now=NOW)

    assert refused.value.code == "not_a_consent_purpose"
    assert table_counts(store) == before


@pytest.mark.parametrize("purpose", ["world_domination", None, ["partner_guidance"]], ids=repr)
def test_unknown_purposes_are_refused_for_consent_and_suspension(store, purpose):
    before = table_counts(store)
    with pytest.raises(StoreError) as consent:
        store.set_consent(ALICE, purpose, True, now=NOW)
    with pytest.raises(StoreError) as suspension:
        suspend(store, ALICE, purpose, now=NOW)
    with pytest.raises(StoreError) as lifting:
        lift_suspension(store, ALICE, purpose, now=NOW)

    assert consent.value.code == suspension.value.code == lifting.value.code == "unknown_purpose"
    assert table_counts(store) == before


def test_consent_changes_are_audited_under_the_subject_ref(store):
    store.set_consent(ALICE, "partner_guidance", True, now=NOW)
    suspend(store, ALICE, "partner_guidance", now=NOW)

    entries = audit_entries(store, ALICE)

    assert [(e.event, e.purpose, e.subject_ref) for e in entries] == [
        ("consent_change", "partner_guidance", store.subject_ref(ALICE)),
        ("suspension", "partner_guidance", store.subject_ref(ALICE)),
    ]
    assert entries[0].detail == {"granted": True}
    assert audit_entries(store, BOB) == []


@pytest.fixture
def metalive_store(backend, secrets):
    opened = Store.open(backend.url, policy=load_policy("metalive"), secrets=secrets,
                        keystore_url=backend.keystore_url)
    yield opened
    opened.close()


def test_under_an_age_rule_optional_purposes_wait_for_confirmation_and_guardian(metalive_store):
    store = metalive_store
    with pytest.raises(StoreError) as unconfirmed:
        store.set_consent(ALICE, "analytics_marketing", True, now=NOW)
    store.confirm_age(ALICE, under_guardian_age=True, now=NOW)
    with pytest.raises(StoreError) as no_guardian:
        store.set_consent(ALICE, "analytics_marketing", True, now=NOW)
    store.set_guardian_consent(ALICE, True, now=NOW, method="signed_form")
    store.set_consent(ALICE, "analytics_marketing", True, now=NOW)

    assert unconfirmed.value.code == "age_confirmation_required"
    assert no_guardian.value.code == "guardian_consent_required"
    state = store.subject_state(ALICE)
    assert (state.age_confirmed, state.under_guardian_age, state.guardian_consent) == (
        True, True, True,
    )
    evidence = {r.category: r.data for r in store.records(ALICE, "live_streaming", now=NOW)}
    assert evidence == {
        "age_confirmation": {"under_guardian_age": True, "confirmed_at": NOW.isoformat()},
        "guardian_consent": {"method": "signed_form", "granted_at": NOW.isoformat()},
    }
