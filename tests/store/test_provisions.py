"""A third-party provision as the store logs it: the row with its recipient, categories,
ground and withholding, and the subject's audit entry naming only the ground (or, when
withheld, the ground it is withheld on) and how many categories went. Found by mutation
testing (benchmarks/README.md, "Mutation testing")."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, NOW, table_counts
from tests.store.test_erasure_retained import metalive
from walletauth.store import StoreError
from walletauth.store.audit import audit_entries
from walletauth.store.provisions import record_provision
from walletauth.store.rights_schema import third_party_provisions

__all__ = ["metalive"]  # the fixture, shared with test_erasure_retained


def test_a_provision_is_logged_with_its_categories_and_audited_by_ground(metalive):
    metalive.record_login(ALICE, 1, now=NOW)
    metalive.confirm_age(ALICE, under_guardian_age=False, now=NOW)
    metalive.set_consent(ALICE, "prior_consent", True, now=NOW)

    record_provision(
        metalive, ALICE, "Partner KK", ["contact_email", "access_log"], "prior_consent", now=NOW
    )
    record_provision(
        metalive,
        ALICE,
        "Prefectural Police",
        ["posting_log"],
        "protect_life_body_property",
        now=NOW,
        withheld="investigation_hindrance",
    )

    with metalive.engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                third_party_provisions.c.recipient,
                third_party_provisions.c.categories,
                third_party_provisions.c.ground,
                third_party_provisions.c.withheld,
                third_party_provisions.c.provided_at,
            ).order_by(third_party_provisions.c.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("Partner KK", ["contact_email", "access_log"], "prior_consent", None, NOW),
        (
            "Prefectural Police",
            ["posting_log"],
            "protect_life_body_property",
            "investigation_hindrance",
            NOW,
        ),
    ]
    provided = [
        (e.subject_ref, dict(e.detail))
        for e in audit_entries(metalive, ALICE)
        if e.event == "third_party_provision"
    ]
    assert provided == [
        (metalive.subject_ref(ALICE), {"ground": "prior_consent", "categories": 2}),
        (metalive.subject_ref(ALICE), {"withheld": "investigation_hindrance", "categories": 1}),
    ]


def test_a_provision_about_an_address_with_no_data_is_refused_and_not_logged(metalive):
    before = table_counts(metalive)

    with pytest.raises(StoreError) as refused:
        record_provision(
            metalive,
            BOB,
            "Prefectural Police",
            ["posting_log"],
            "protect_life_body_property",
            now=NOW,
        )

    assert refused.value.code == "unknown_subject"
    assert table_counts(metalive) == before
