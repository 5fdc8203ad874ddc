"""The audit log takes known events and details of counts, flags and ids only."""

from __future__ import annotations

import pytest

from tests.store.conftest import ALICE, BOB, NOW, table_counts
from walletauth.store import AUDIT_EVENTS, StoreError
from walletauth.store.audit import audit_entries


def test_a_processing_event_is_logged_with_its_counts(store):
    store.record_login(ALICE, 1, now=NOW)

    store.audit(ALICE, "export", now=NOW, detail={"records": 2, "withheld": 0, "html": True})

    [entry] = audit_entries(store, ALICE)
    assert (entry.event, entry.subject_ref, entry.detail) == (
        "export", store.subject_ref(ALICE), {"records": 2, "withheld": 0, "html": True},
    )


def test_an_unknown_event_is_refused_and_nothing_is_logged(store):
    before = table_counts(store)

    with pytest.raises(StoreError) as refused:
        store.audit(None, "looked_around", now=NOW)

    assert refused.value.code == "invalid_argument"
    assert "looked_around" not in AUDIT_EVENTS
    assert table_counts(store) == before


@pytest.mark.parametrize(
    "detail",
    [
        {"who": object()},
        {"records": 1.5},
        {"nested": {"deeper": 1}},
        {"rows": [{"count": [1, 2]}]},
        {7: "seven"},
        {"note": f"requested by {ALICE}"},
        {"rows": [{"address": ALICE.lower()}]},
    ],
    ids=["object", "float", "mapping", "list-in-row", "key-not-text", "address", "address-in-row"],
)
def test_a_detail_that_is_not_counts_flags_and_ids_is_refused(store, detail):
    before = table_counts(store)

    with pytest.raises(StoreError) as refused:
        store.audit(None, "export", now=NOW, detail=detail)

    assert refused.value.code == "invalid_argument"
    assert table_counts(store) == before


def test_an_event_names_its_purpose_and_category_and_may_name_no_subject(store):
    """Found by mutation testing (benchmarks/README.md): no test passed a purpose or a
    category, or an address the store never saw, to ``Store.audit``."""
    store.record_login(ALICE, 1, now=NOW)

    store.audit(ALICE, "correction", now=NOW, purpose="service_provision",
                category="contact_email", detail={"fields": 1})
    store.audit(None, "export", now=NOW, detail={"records": 0})
    store.audit(BOB, "export", now=NOW, purpose="service_provision")  # never signed in

    entries = [(e.event, e.subject_ref, e.purpose, e.category, dict(e.detail))
               for e in audit_entries(store)]
    assert entries == [
        ("correction", store.subject_ref(ALICE), "service_provision", "contact_email",
         {"fields": 1}),
        ("export", None, None, None, {"records": 0}),
        ("export", None, "service_provision", None, {}),
    ]
    assert audit_entries(store, BOB) == []  # still no subject of Bob's


def test_the_log_reads_in_the_order_it_was_written_after_an_erasure_unlinks_entries(store):
    """An erasure sets its subject's entries' link to NULL: PostgreSQL writes those
    updated rows after the others, so only the ORDER BY keeps the log in order."""
    from walletauth.store.erasure import erase_subject

    for address in (ALICE, BOB):
        store.record_login(address, 1, now=NOW)
    for address in (ALICE, BOB, ALICE, BOB):
        store.audit(address, "export", now=NOW)

    erase_subject(store, BOB, now=NOW)

    entries = audit_entries(store)
    assert [e.id for e in entries] == sorted(e.id for e in entries)
    assert [(e.event, e.subject_ref) for e in entries] == [
        ("export", store.subject_ref(ALICE)), ("export", None),
        ("export", store.subject_ref(ALICE)), ("export", None), ("erasure", None)]
    assert entries[0].at == NOW
