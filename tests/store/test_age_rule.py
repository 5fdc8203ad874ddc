"""METALIVE's age rule in the store itself (the HTTP tests go through the server): an
under-13 confirmation is final and discards what was kept before it, a guardian's
withdrawal names the purposes it takes out of use, and only a grant is kept as evidence.
Found by mutation testing (benchmarks/README.md, "Mutation testing")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from tests.store.conftest import ALICE, BOB, NOW, table_counts
from tests.store.test_erasure_retained import metalive
from walletauth.store import StoreError
from walletauth.store.audit import audit_entries
from walletauth.store.outbox import PendingNotice, pending_count

__all__ = ["metalive"]  # the fixture, shared with test_erasure_retained

LATER = NOW + timedelta(minutes=5)
ANALYTICS, ADVERTISING = "analytics_marketing", "advertising"


def test_an_under_13_confirmation_is_final_an_adults_is_not(metalive):
    metalive.confirm_age(ALICE, under_guardian_age=True, now=NOW)
    metalive.confirm_age(ALICE, under_guardian_age=True, now=LATER)  # again: allowed
    with pytest.raises(StoreError) as growing_up:
        metalive.confirm_age(ALICE, under_guardian_age=False, now=LATER)
    metalive.confirm_age(BOB, under_guardian_age=False, now=NOW)
    metalive.confirm_age(BOB, under_guardian_age=False, now=LATER)  # again: allowed
    metalive.confirm_age(BOB, under_guardian_age=True, now=LATER)  # an adult below: allowed

    assert growing_up.value.code == "age_confirmation_final"
    for address in (ALICE, BOB):
        state = metalive.subject_state(address)
        assert (state.age_confirmed, state.under_guardian_age) == (True, True)
    assert [e.event for e in audit_entries(metalive, ALICE)] == ["age_confirmation"] * 2


def test_an_under_13_confirmation_discards_what_the_first_sign_in_kept(metalive):
    metalive.record_login(ALICE, 1, now=NOW, ip="203.0.113.9")
    metalive.record_login(BOB, 1, now=NOW, ip="203.0.113.9")
    assert sorted(r.category for r in metalive.subject_records(ALICE, now=NOW)) == [
        "access_log",
        "wallet_address",
    ]

    metalive.confirm_age(ALICE, under_guardian_age=True, now=NOW)
    metalive.confirm_age(BOB, under_guardian_age=False, now=NOW)

    assert sorted(r.category for r in metalive.subject_records(ALICE, now=NOW)) == [
        "age_confirmation",
        "wallet_address",
    ]
    assert sorted(r.category for r in metalive.subject_records(BOB, now=NOW)) == [
        "access_log",
        "age_confirmation",
        "wallet_address",
    ]
    [alice] = audit_entries(metalive, ALICE)[-1:]
    [bob] = audit_entries(metalive, BOB)[-1:]
    assert (alice.event, alice.detail) == ("age_confirmation", {"value": True, "discarded": 1})
    assert (bob.event, bob.detail) == ("age_confirmation", {"value": False})


def test_a_guardians_withdrawal_names_the_purposes_it_takes_out_of_use(metalive):
    asked: list[tuple[str, ...]] = []

    def notices(purposes: Sequence[str]) -> list[PendingNotice]:
        asked.append(tuple(purposes))
        return [
            PendingNotice(
                notice_id=f"ntc_{len(asked)}",
                endpoint="https://x.example/n",
                type="consent.withdrawn",
                occurred_at=LATER,
                policy_id=metalive.policy.id,
                policy_version=metalive.policy.version,
            )
        ]

    metalive.confirm_age(ALICE, under_guardian_age=True, now=NOW)
    metalive.set_guardian_consent(
        ALICE, True, now=NOW, method="signed_form", withdrawal_notices=notices
    )  # takes nothing out of use
    for purpose in (ANALYTICS, ADVERTISING):
        metalive.set_consent(ALICE, purpose, True, now=NOW)
    metalive.set_guardian_consent(ALICE, False, now=LATER, withdrawal_notices=notices)
    metalive.set_guardian_consent(ALICE, False, now=LATER, withdrawal_notices=notices)
    metalive.set_guardian_consent(ALICE, True, now=LATER, method="signed_form")
    metalive.set_guardian_consent(ALICE, False, now=LATER)  # no notices asked for: none

    # An adult's purposes never needed the guardian: a withdrawal takes none away.
    metalive.confirm_age(BOB, under_guardian_age=False, now=NOW)
    metalive.set_consent(BOB, ANALYTICS, True, now=NOW)
    metalive.set_guardian_consent(BOB, False, now=LATER, withdrawal_notices=notices)

    assert asked == [(ANALYTICS, ADVERTISING)]  # the second withdrawal took nothing away
    assert pending_count(metalive.engine) == 1


def test_only_a_grant_is_kept_as_the_guardians_evidence(metalive):
    metalive.confirm_age(ALICE, under_guardian_age=True, now=NOW)
    metalive.set_guardian_consent(ALICE, True, now=NOW, method="signed_form")

    metalive.set_guardian_consent(ALICE, False, now=LATER, method="phone_call")

    evidence = [
        r.data
        for r in metalive.subject_records(ALICE, now=LATER)
        if r.category == "guardian_consent"
    ]
    assert evidence == [{"method": "signed_form", "granted_at": NOW.isoformat()}]
    assert metalive.subject_state(ALICE).guardian_consent is False


def test_without_an_age_rule_nothing_is_recorded(store):
    before = table_counts(store)
    refused = []
    for record in (
        lambda: store.confirm_age(ALICE, under_guardian_age=True, now=NOW),
        lambda: store.set_guardian_consent(ALICE, True, now=NOW, method="signed_form"),
    ):
        with pytest.raises(StoreError) as error:
            record()
        refused.append(error.value.code)

    assert refused == ["no_age_rule", "no_age_rule"]
    assert table_counts(store) == before
