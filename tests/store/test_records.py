"""Purpose-tagged records: refused writes store nothing, reads are bound to one purpose."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.store.conftest import ALICE, BOB, NOW, table_counts
from walletauth.store import Record, StoreError
from walletauth.store.subject_state import lift_suspension, suspend

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.6099.109 Safari/537.36"
)


def emails(records: list[Record]) -> list[object]:
    return [record.data.get("email") for record in records]


def test_a_record_carries_its_subject_purpose_basis_and_expiry(store):
    record_id = store.put_record(
        ALICE,
        "contact_email",
        "service_provision",
        {"email": "alice@example.com"},
        now=NOW,
        source="application_form",
    )

    [record] = store.records(ALICE, "service_provision", now=NOW)
    assert record.id == record_id
    assert (record.category, record.purpose, record.basis) == (
        "contact_email",
        "service_provision",
        "necessary",
    )
    assert record.collected_at == NOW
    assert record.expires_at == NOW + store.policy.retention("contact_email", "service_provision")
    assert record.source == "application_form"
    assert record.policy_version == store.policy.version
    assert record.data == {"email": "alice@example.com"}


@pytest.mark.parametrize(
    ("category", "purpose", "data", "code"),
    [
        ("application_url", "partner_guidance", {"url": "https://a.io"}, "purpose_not_allowed"),
        ("contact_email", "partner_guidance", {"email": "a@example.com"}, "consent_required"),
        ("contact_email", "service_provision", {"email": "a@x.io", "age": 9}, "field_not_allowed"),
        ("shoe_size", "service_provision", {"size": 42}, "unknown_category"),
        ("contact_email", "world_domination", {"email": "a@example.com"}, "unknown_purpose"),
        ("access_log", "service_provision", {"ip": "not an ip"}, "invalid_ip"),
        # Refused only when sealing, after the new subject and its key were made: both go.
        ("contact_email", "service_provision", {"email": b"a@x.io"}, "invalid_field_value"),
        (["contact_email"], "service_provision", {"email": "a@x.io"}, "unknown_category"),
        ("contact_email", {"service_provision"}, {"email": "a@x.io"}, "unknown_purpose"),
    ],
)
def test_a_refused_write_leaves_nothing_behind(store, category, purpose, data, code):
    before = table_counts(store)

    with pytest.raises(StoreError) as refused:
        store.put_record(ALICE, category, purpose, data, now=NOW, source="test")

    assert refused.value.code == code
    assert table_counts(store) == before


def test_a_refused_write_for_a_known_subject_adds_no_record(store):
    store.record_login(ALICE, 1, now=NOW)
    suspend(store, ALICE, "service_provision", now=NOW)
    before = table_counts(store)

    with pytest.raises(StoreError) as refused:
        store.put_record(
            ALICE, "contact_email", "service_provision", {"email": "a@x.io"}, now=NOW, source="test"
        )

    assert refused.value.code == "purpose_suspended"
    assert table_counts(store) == before


def test_a_consent_purpose_accepts_records_once_consent_is_given(store):
    store.set_consent(ALICE, "partner_guidance", True, now=NOW)

    store.put_record(
        ALICE, "contact_email", "partner_guidance", {"email": "a@x.io"}, now=NOW, source="test"
    )

    assert emails(store.records(ALICE, "partner_guidance", now=NOW)) == ["a@x.io"]


def test_reads_never_return_another_purposes_or_another_subjects_records(store):
    store.set_consent(ALICE, "partner_guidance", True, now=NOW)
    store.set_consent(BOB, "partner_guidance", True, now=NOW)
    store.put_record(
        ALICE,
        "contact_email",
        "service_provision",
        {"email": "alice-service@x.io"},
        now=NOW,
        source="test",
    )
    store.put_record(
        ALICE,
        "contact_email",
        "partner_guidance",
        {"email": "alice-partner@x.io"},
        now=NOW,
        source="test",
    )
    store.put_record(
        BOB,
        "contact_email",
        "partner_guidance",
        {"email": "bob-partner@x.io"},
        now=NOW,
        source="test",
    )
    store.put_record(
        BOB,
        "application_url",
        "service_provision",
        {"url": "https://bob.example"},
        now=NOW,
        source="test",
    )

    assert emails(store.records(ALICE, "partner_guidance", now=NOW)) == ["alice-partner@x.io"]
    assert emails(store.records(ALICE, "service_provision", now=NOW)) == ["alice-service@x.io"]
    assert emails(store.records(BOB, "partner_guidance", now=NOW)) == ["bob-partner@x.io"]
    bob_service = store.records(BOB, "service_provision", now=NOW, category="application_url")
    assert [r.data for r in bob_service] == [{"url": "https://bob.example"}]
    assert store.records(BOB, "service_provision", now=NOW, category="contact_email") == []


def test_suspension_hides_records_at_once_and_lifting_shows_them_again(store):
    store.put_record(
        ALICE, "contact_email", "service_provision", {"email": "a@x.io"}, now=NOW, source="test"
    )

    suspend(store, ALICE, "service_provision", now=NOW)
    assert store.records(ALICE, "service_provision", now=NOW) == []

    lift_suspension(store, ALICE, "service_provision", now=NOW)
    assert emails(store.records(ALICE, "service_provision", now=NOW)) == ["a@x.io"]


def test_withdrawing_consent_hides_the_records_kept_for_that_purpose(store):
    store.set_consent(ALICE, "partner_guidance", True, now=NOW)
    store.put_record(
        ALICE, "contact_email", "partner_guidance", {"email": "a@x.io"}, now=NOW, source="test"
    )
    store.put_record(
        ALICE, "contact_email", "service_provision", {"email": "a@x.io"}, now=NOW, source="test"
    )

    store.set_consent(ALICE, "partner_guidance", False, now=NOW + timedelta(minutes=1))

    assert store.records(ALICE, "partner_guidance", now=NOW) == []
    assert emails(store.records(ALICE, "service_provision", now=NOW)) == ["a@x.io"]


def test_records_past_their_expiry_are_not_handed_out_even_before_purge(store):
    store.put_record(
        ALICE, "access_log", "service_provision", {"at": NOW.isoformat()}, now=NOW, source="test"
    )
    retention = store.policy.retention("access_log", "service_provision")

    assert len(store.records(ALICE, "service_provision", now=NOW + retention - timedelta(1))) == 1
    assert store.records(ALICE, "service_provision", now=NOW + retention) == []


def test_data_is_minimised_before_it_is_stored(store):
    store.put_record(
        ALICE,
        "access_log",
        "service_provision",
        {"ip": "203.0.113.77", "browser": CHROME, "at": NOW.isoformat()},
        now=NOW,
        source="test",
    )

    [record] = store.records(ALICE, "service_provision", now=NOW)
    assert record.data == {"ip": "203.0.113.0/24", "browser": "Chrome 120", "at": NOW.isoformat()}


def test_a_sign_in_keeps_the_wallet_record_and_one_access_log_per_allowed_purpose(store):
    store.record_login(ALICE, 1, now=NOW, ip="198.51.100.23", user_agent=CHROME)
    later = NOW + timedelta(days=10)
    store.set_consent(ALICE, "quality_marketing", True, now=later)
    store.record_login(ALICE, 137, now=later, ip="2001:db8:1234:5678::1")

    [wallet] = store.records(ALICE, "service_provision", now=later, category="wallet_address")
    assert wallet.data == {
        "chain_id": 137,
        "first_sign_in": NOW.isoformat(),
        "last_sign_in": later.isoformat(),
    }
    assert wallet.collected_at == NOW
    assert wallet.updated_at == later
    retention = store.policy.retention("wallet_address", "service_provision")
    assert wallet.expires_at == later + retention
    service_logs = store.records(ALICE, "service_provision", now=later, category="access_log")
    assert [r.data["ip"] for r in service_logs] == ["198.51.100.0/24", "2001:db8:1234::/48"]
    assert service_logs[0].data["browser"] == "Chrome 120"
    marketing_logs = store.records(ALICE, "quality_marketing", now=later)
    assert [r.data["ip"] for r in marketing_logs] == ["2001:db8:1234::/48"]


def test_a_sign_in_while_the_login_purpose_is_suspended_is_refused(store):
    store.record_login(ALICE, 1, now=NOW)
    suspend(store, ALICE, "service_provision", now=NOW)

    with pytest.raises(StoreError) as refused:
        store.record_login(ALICE, 1, now=NOW + timedelta(hours=1))

    assert refused.value.code == "purpose_suspended"


def test_addresses_are_accepted_in_any_case(store):
    store.put_record(
        ALICE.lower(),
        "contact_email",
        "service_provision",
        {"email": "a@x.io"},
        now=NOW,
        source="test",
    )

    assert emails(store.records(ALICE, "service_provision", now=NOW)) == ["a@x.io"]
    assert emails(store.records("0x" + ALICE[2:].upper(), "service_provision", now=NOW)) == [
        "a@x.io"
    ]
    assert store.subject_ref(ALICE.lower()) == store.subject_ref(ALICE)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "0x1234",
        "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0x" + "g" * 40,
        "0x5AaEb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        None,
        42,
    ],
)
def test_an_invalid_address_is_refused_with_a_clear_code(store, address):
    with pytest.raises(StoreError) as refused:
        store.put_record(
            address,
            "contact_email",
            "service_provision",
            {"email": "a@x.io"},
            now=NOW,
            source="test",
        )

    assert refused.value.code == "invalid_address"


def test_naive_times_and_bad_arguments_are_refused(store):
    with pytest.raises(StoreError) as naive:
        store.records(ALICE, "service_provision", now=NOW.replace(tzinfo=None))
    with pytest.raises(StoreError) as chain:
        store.record_login(ALICE, 0, now=NOW)
    with pytest.raises(StoreError) as value:
        store.put_record(
            ALICE, "contact_email", "service_provision", {"email": object()}, now=NOW, source="test"
        )

    assert naive.value.code == "naive_datetime"
    assert chain.value.code == "invalid_argument"
    assert value.value.code == "invalid_field_value"


def test_reading_an_unknown_purpose_or_category_is_an_error_not_an_empty_list(store):
    with pytest.raises(StoreError) as purpose:
        store.records(ALICE, "world_domination", now=NOW)
    with pytest.raises(StoreError) as category:
        store.records(ALICE, "service_provision", now=NOW, category="shoe_size")

    assert purpose.value.code == "unknown_purpose"
    assert category.value.code == "unknown_category"


def test_the_subjects_own_access_request_sees_every_live_record_whatever_the_state(store):
    store.set_consent(ALICE, "partner_guidance", True, now=NOW)
    store.put_record(
        ALICE, "contact_email", "partner_guidance", {"email": "a@x.io"}, now=NOW, source="test"
    )
    store.record_login(ALICE, 1, now=NOW)
    store.record_login(BOB, 1, now=NOW)
    suspend(store, ALICE, "partner_guidance", now=NOW)

    mine = store.subject_records(ALICE, now=NOW)

    assert sorted((r.category, r.purpose) for r in mine) == [
        ("access_log", "service_provision"),
        ("contact_email", "partner_guidance"),
        ("wallet_address", "service_provision"),
    ]
    assert store.subject_records("0x" + "5" * 40, now=NOW) == []


def test_concurrent_first_sign_ins_of_one_address_make_one_subject(store):
    from tests.store.test_ephemeral import run_together

    results = run_together(8, lambda: store.record_login(ALICE, 1, now=NOW))

    assert results == [None] * 8
    wallets = store.records(ALICE, "service_provision", now=NOW, category="wallet_address")
    assert len(wallets) == 1
    assert len(store.records(ALICE, "service_provision", now=NOW, category="access_log")) == 8
    assert table_counts(store)["subjects"] == table_counts(store)["keystore_subject_keys"] == 1


def test_a_first_sign_in_that_finds_its_subject_filed_meanwhile_joins_it(store, monkeypatch):
    """The race of two first sign-ins, played in order: the lookup saw no subject, another
    transaction filed it before our insert. Ours then uses theirs and drops the key it made."""
    from walletauth.store.login_sql import LoginTransaction

    store.record_login(ALICE, 1, now=NOW - timedelta(days=1))
    looked_up = LoginTransaction.find_subject
    missed: list[bool] = []

    def first_lookup_misses(self, refs, *, record=None):
        found = looked_up(self, refs, record=record)
        if not missed:
            missed.append(True)
            return None, []
        return found

    monkeypatch.setattr(LoginTransaction, "find_subject", first_lookup_misses)
    store.record_login(ALICE, 1, now=NOW)

    assert missed
    counts = table_counts(store)
    assert counts["subjects"] == counts["keystore_subject_keys"] == 1
    (wallet,) = store.records(ALICE, "service_provision", now=NOW, category="wallet_address")
    assert wallet.data["last_sign_in"] == NOW.isoformat()
    logs = store.records(ALICE, "service_provision", now=NOW, category="access_log")
    assert len(logs) == 2
