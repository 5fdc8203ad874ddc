"""The rights as library calls over a Store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.policy.helpers import metalive_with_bookkeeping_toml
from tests.rights.conftest import ALICE, BOB, NOW, open_store
from walletauth.errors import WalletAuthError
from walletauth.policy import parse_policy
from walletauth.rights import (
    RecordChange,
    RightsError,
    correct,
    erase_subject,
    export_subject,
    lift_restriction,
    list_requests,
    record_provision,
    restrict,
    stop_third_party,
)
from walletauth.store import Store, StoreError
from walletauth.store.erasure import orphan_keys

LATER = NOW + timedelta(minutes=5)


def populate(store, address):
    store.record_login(address, 1, now=NOW, ip="203.0.113.9", user_agent="curl/8.0")
    store.put_record(address, "contact_email", "service_provision", {"email": "me@example.org"},
                     now=NOW, source="signup")
    store.set_consent(address, "prior_consent", True, now=NOW)
    record_provision(store, address, "Partner KK", ["contact_email"], "prior_consent", now=NOW)


def test_the_export_holds_everything_linked_to_the_address_and_nothing_of_another(store):
    populate(store, ALICE)
    populate(store, BOB)

    document = export_subject(store, ALICE.lower(), now=LATER)

    assert document["subject"] == ALICE
    assert document["policy"] == {"id": "abcrecords", "version": store.policy.version}
    categories = sorted(r["category"] for r in document["records"])
    assert categories == ["access_log", "contact_email", "wallet_address"]
    email = next(r for r in document["records"] if r["category"] == "contact_email")
    assert email["data"] == {"email": "me@example.org"}
    assert email["dpv"] == store.policy.purpose("service_provision").dpv
    assert email.keys() >= {"purpose", "basis", "collected_at", "expires_at", "source"}
    assert [c["purpose"] for c in document["consents"]] == ["prior_consent"]
    [provision] = document["third_party_provisions"]
    assert provision["recipient"] == "Partner KK"
    assert provision["categories"] == ["contact_email"]
    assert provision["legal_ground"]["en"]
    assert {e["event"] for e in document["processing_log"]} >= {"consent_change",
                                                                "third_party_provision"}
    assert BOB not in str(document) and BOB.lower() not in str(document)
    [request] = list_requests(store, ALICE)
    assert (request.kind, request.status) == ("export", "completed")


def test_metalive_discloses_the_access_logs_kept_under_the_wallet(metalive):
    # The text withholds アクセスログなどの個人情報以外の情報; a log filed under a wallet is
    # linked to that person, so it is personal information and disclosed.
    metalive.record_login(ALICE, 1, now=NOW, ip="203.0.113.9")
    metalive.confirm_age(ALICE, under_guardian_age=False, now=NOW)
    metalive.set_consent(ALICE, "access_analysis", True, now=NOW)
    metalive.record_login(ALICE, 1, now=NOW, ip="203.0.113.9")

    document = export_subject(metalive, ALICE, now=LATER)

    logs = [r for r in document["records"] if r["category"] == "access_log"]
    assert {r["purpose"] for r in logs} == {"fraud_prevention", "access_analysis"}
    assert {r["data"]["ip"] for r in logs} == {"203.0.113.0/24"}
    assert document["withheld"] == []


def test_metalive_optional_purposes_wait_for_age_and_under_13_for_a_guardian(metalive):
    metalive.record_login(ALICE, 1, now=NOW)
    with pytest.raises(StoreError) as no_age:
        metalive.set_consent(ALICE, "access_analysis", True, now=NOW)
    metalive.confirm_age(ALICE, under_guardian_age=True, now=NOW)
    with pytest.raises(StoreError) as no_guardian:
        metalive.set_consent(ALICE, "access_analysis", True, now=NOW)
    metalive.set_guardian_consent(ALICE, True, now=NOW, method="signed_form")
    metalive.set_consent(ALICE, "access_analysis", True, now=NOW)
    metalive.record_login(ALICE, 1, now=NOW, ip="203.0.113.9")

    assert no_age.value.code == "age_confirmation_required"
    assert no_guardian.value.code == "guardian_consent_required"
    assert len(metalive.records(ALICE, "access_analysis", now=NOW)) == 1
    categories = {r["category"] for r in export_subject(metalive, ALICE, now=LATER)["records"]}
    assert {"age_confirmation", "guardian_consent"} <= categories


def test_erasure_removes_every_record_consent_session_and_provision_with_a_receipt(store):
    populate(store, ALICE)
    populate(store, BOB)
    store.create_session("s" * 32, ALICE, expires_at=NOW + timedelta(days=1))

    receipt = erase_subject(store, ALICE, now=LATER, notify=["music"])

    assert receipt.erased == {"access_log": 1, "contact_email": 1, "wallet_address": 1}
    assert (receipt.consent_events, receipt.sessions, receipt.third_party_provisions) == (1, 1, 0)
    assert receipt.retained == [] and receipt.notices == 1
    # The provision's record stays for its statutory period (APPI Art. 29), with its ground.
    [kept] = receipt.retained_provisions
    assert (kept.ground, kept.count, kept.until) == (
        "prior_consent", 1, NOW + store.policy.third_party.record_retention)
    assert kept.ground_text == store.policy.ground("prior_consent").text.model_dump()
    after = export_subject(store, ALICE, now=LATER)
    assert after["records"] == [] and after["consents"] == []
    assert [p["recipient"] for p in after["third_party_provisions"]] == ["Partner KK"]
    assert store.consent_history(ALICE) == []
    assert not store.session_active("s" * 32, now=LATER)
    assert len(export_subject(store, BOB, now=LATER)["records"]) == 3
    # The key store stamps keys with the wall clock, not with `now`: ask past it, so a
    # key the erasure left behind would be listed.
    assert orphan_keys(store, created_before=datetime.now(UTC) + timedelta(minutes=1)) == []
    statuses = {(r.kind, r.status) for r in list_requests(store, ALICE)}
    assert statuses == {("erase", "completed"), ("export", "completed")}


def test_erasure_keeps_only_what_a_named_law_requires_and_lists_the_law(backend, secrets):
    policy = parse_policy(metalive_with_bookkeeping_toml(), origin="metalive + bookkeeping")
    store = Store.open(backend.url, policy=policy, secrets=secrets,
                       keystore_url=backend.keystore_url)
    try:
        store.record_login(ALICE, 1, now=NOW)
        store.put_record(ALICE, "posting_log", "fraud_prevention", _posting(store), now=NOW,
                         source="chat")
        store.put_record(ALICE, "payment_reference", "bookkeeping", _payment(store), now=NOW,
                         source="shop")

        receipt = erase_subject(store, ALICE, now=LATER)

        [kept] = receipt.retained
        assert (kept.category, kept.purpose, kept.count) == ("payment_reference", "bookkeeping",
                                                             1)
        assert kept.ground == policy.purpose("bookkeeping").legal_source.model_dump()
        assert kept.ground["ja"].startswith("法人税法") and kept.clause
        assert {"wallet_address", "posting_log"} <= set(receipt.erased)
        assert len(store.records(ALICE, "bookkeeping", now=LATER)) == 1
    finally:
        store.close()


def test_metalive_posting_logs_go_with_an_erasure_the_text_names_no_duty_to_keep(metalive):
    metalive.record_login(ALICE, 1, now=NOW)
    metalive.put_record(ALICE, "posting_log", "fraud_prevention", _posting(metalive), now=NOW,
                        source="chat")
    metalive.put_record(ALICE, "payment_reference", "payment", _payment(metalive), now=NOW,
                        source="shop")

    receipt = erase_subject(metalive, ALICE, now=LATER)

    assert receipt.retained == []
    assert receipt.erased == {"wallet_address": 1, "access_log": 1, "posting_log": 1,
                              "payment_reference": 1}
    assert metalive.records(ALICE, "fraud_prevention", now=LATER) == []


def test_restricting_fraud_prevention_hides_metalive_posting_logs(metalive):
    metalive.record_login(ALICE, 1, now=NOW)
    metalive.put_record(ALICE, "posting_log", "fraud_prevention", _posting(metalive), now=NOW,
                        source="chat")

    restrict(metalive, ALICE, ["fraud_prevention"], now=LATER)

    assert metalive.records(ALICE, "fraud_prevention", now=LATER) == []
    with pytest.raises(WalletAuthError) as caught:
        restrict(metalive, ALICE, ["legal_requests"], now=LATER)
    assert caught.value.code == "unknown_purpose"


def _posting(store):
    fields = store.policy.category("posting_log").fields
    return {name: "x" for name, rule in fields.items() if rule == "keep"}


def _payment(store):
    return dict.fromkeys(store.policy.category("payment_reference").fields, "x")


def test_corrections_overwrite_add_and_delete_user_supplied_records_only(store):
    populate(store, ALICE)
    [email] = store.records(ALICE, "service_provision", now=NOW, category="contact_email")
    [wallet] = store.records(ALICE, "service_provision", now=NOW, category="wallet_address")

    receipt = correct(store, ALICE, [
        RecordChange("correct", record_id=email.id, data={"email": "new@example.org"}),
        RecordChange("add", category="application_url", purpose="service_provision",
                     data={"url": "https://example.org/app"}),
    ], now=LATER)
    with pytest.raises(RightsError) as not_mine:
        correct(store, ALICE, [RecordChange("delete", record_id=wallet.id)], now=LATER)
    with pytest.raises(RightsError) as other_subject:
        bob_email = _bob_email(store)
        correct(store, ALICE, [RecordChange("delete", record_id=bob_email)], now=LATER)
    with pytest.raises(RightsError) as undeclared:
        correct(store, ALICE, [RecordChange("correct", record_id=email.id,
                                            data={"phone": "1"})], now=LATER)

    [corrected] = store.records(ALICE, "service_provision", now=LATER, category="contact_email")
    assert corrected.data == {"email": "new@example.org"} and corrected.id == email.id
    assert receipt.detail["corrected"] == 1 and len(receipt.detail["added"]) == 1
    assert (not_mine.value.code, other_subject.value.code, undeclared.value.code) == (
        "not_user_supplied", "unknown_record", "undeclared_field")
    correct(store, ALICE, [RecordChange("delete", record_id=email.id)], now=LATER)
    assert store.records(ALICE, "service_provision", now=LATER, category="contact_email") == []
    denied = [r.reason for r in list_requests(store, ALICE) if r.status == "denied"]
    assert sorted(denied) == ["not_user_supplied", "undeclared_field", "unknown_record"]


@pytest.mark.parametrize("record_id", [2**63, 2**70, 0, -1, True])
def test_a_correction_naming_an_impossible_record_id_is_an_unknown_record(store, record_id):
    populate(store, ALICE)

    with pytest.raises(RightsError) as refused:
        correct(store, ALICE, [RecordChange("delete", record_id=record_id)], now=LATER)

    assert refused.value.code == "unknown_record"
    assert len(export_subject(store, ALICE, now=LATER)["records"]) == 3


def _bob_email(store):
    populate(store, BOB)
    return store.records(BOB, "service_provision", now=NOW, category="contact_email")[0].id


def test_a_restriction_stops_purpose_bound_reads_at_once_and_lifting_restores_them(store):
    populate(store, ALICE)
    store.set_consent(ALICE, "partner_guidance", True, now=NOW)
    store.put_record(ALICE, "contact_email", "partner_guidance", {"email": "p@example.org"},
                     now=NOW, source="signup")

    restrict(store, ALICE, ["partner_guidance"], now=LATER)
    suspended = store.records(ALICE, "partner_guidance", now=LATER)
    lift_restriction(store, ALICE, ["partner_guidance"], now=LATER)

    assert suspended == []
    assert len(store.records(ALICE, "partner_guidance", now=LATER)) == 1
    with pytest.raises(RightsError) as login_purpose:
        restrict(store, ALICE, ["service_provision"], now=LATER)
    assert login_purpose.value.code == "not_restrictable"
    with pytest.raises(WalletAuthError) as unknown:
        restrict(store, ALICE, ["nope"], now=LATER)
    assert unknown.value.code == "unknown_purpose"


def test_after_a_stop_consent_provisions_are_refused_and_legal_ones_still_go(store):
    populate(store, ALICE)

    stop_third_party(store, ALICE, now=LATER)

    with pytest.raises(StoreError) as stopped:
        record_provision(store, ALICE, "Partner KK", ["contact_email"], "prior_consent",
                         now=LATER)
    assert stopped.value.code == "third_party_stopped"
    record_provision(store, ALICE, "Court", ["contact_email"], "required_by_law", now=LATER)
    grounds = [p["ground"] for p in export_subject(store, ALICE, now=LATER)
               ["third_party_provisions"]]
    assert grounds == ["prior_consent", "required_by_law"]


def test_records_of_a_purpose_the_policy_dropped_are_still_exported_and_erased(
    backend, secrets
):
    # Written while the policy named a purpose (here the bookkeeping duty; in a real
    # upgrade METALIVE's former legal_requests), read after it no longer does.
    policy = parse_policy(metalive_with_bookkeeping_toml(), origin="metalive + bookkeeping")
    before = Store.open(backend.url, policy=policy, secrets=secrets,
                        keystore_url=backend.keystore_url)
    try:
        before.record_login(ALICE, 1, now=NOW)
        before.put_record(ALICE, "payment_reference", "bookkeeping", _payment(before), now=NOW,
                          source="shop")
    finally:
        before.close()
    after = open_store(backend, secrets, "metalive")
    try:
        exported = export_subject(after, ALICE, now=LATER)
        receipt = erase_subject(after, ALICE, now=LATER)
    finally:
        after.close()

    [kept] = [r for r in exported["records"] if r["purpose"] == "bookkeeping"]
    assert kept["dpv"] is None and kept["category"] == "payment_reference"
    assert receipt.retained == [] and receipt.erased["payment_reference"] == 1
