"""The audit log takes known events and details of counts, flags and ids only."""

from __future__ import annotations

import pytest

from tests.store.conftest import ALICE, NOW, table_counts
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
