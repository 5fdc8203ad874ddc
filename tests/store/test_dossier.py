"""The store's side of a disclosure (dossier.read_dossier): every record, event, provision
(withheld or not) and audit entry of the subject and no one else's, nothing once the key is
gone, and a read a write in progress does not hold up. Written for mutmut's survivors in
dossier.py (benchmarks/README.md): tests/rights reads the dossier through the export only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa

from tests.policy.helpers import shipped_policy_toml
from tests.store.conftest import ALICE, BOB, CAROL, NOW
from tests.store.test_erasure_retained import RECENT, fill_every_table, metalive, open_store
from walletauth.store.audit import audit_entries
from walletauth.store.dossier import Dossier, Provision, read_dossier
from walletauth.store.provisions import record_provision
from walletauth.store.schema import records
from walletauth.store.subjects import find_with_history, refs_of

__all__ = ["metalive"]  # the fixture, shared with test_erasure_retained


def test_a_dossier_holds_everything_of_the_subject_and_nothing_of_another(metalive):
    store = metalive
    for address in (ALICE, BOB):
        fill_every_table(store, address, bookkeeping=False, recent=False)
    record_provision(
        store,
        ALICE,
        "Prefectural Police",
        ["posting_log", "access_log"],
        "protect_life_body_property",
        now=RECENT,
        withheld="investigation_hindrance",
    )

    dossier = read_dossier(store, ALICE)

    assert dossier.found is True
    version = store.policy.version
    assert dossier.provisions == [
        Provision("Old Partner KK", ("contact_email",), "prior_consent", NOW, version),
        Provision(
            "Prefectural Police",
            ("posting_log", "access_log"),
            "protect_life_body_property",
            RECENT,
            version,
            "investigation_hindrance",
        ),
    ]
    assert dossier.events == store.consent_history(ALICE) != []
    assert dossier.audit == audit_entries(store, ALICE) != []
    # In the order they were kept, the live ones being exactly what subject_records reads.
    ids = [record.id for record in dossier.records]
    assert ids == sorted(ids)
    assert dossier.records == store.subject_records(ALICE, now=NOW)
    assert {r.id for r in dossier.records}.isdisjoint(
        {r.id for r in store.subject_records(BOB, now=NOW)}
    )


def test_no_dossier_for_an_address_never_seen_or_whose_key_is_gone(metalive):
    store = metalive
    fill_every_table(store, ALICE, bookkeeping=False, recent=False)
    assert read_dossier(store, CAROL) == Dossier(found=False)
    with store.engine.connect() as connection:
        subject, _events = find_with_history(connection, refs_of(store.secrets, ALICE), lock=False)
    assert subject is not None

    store.keys.destroy([subject.key_id])  # an erasure between the reads and the key's

    assert read_dossier(store, ALICE) == Dossier(found=False)


def test_a_write_in_progress_does_not_hold_up_a_disclosure(metalive):
    """On SQLite a write transaction holds the database's write lock: the dossier's read
    transaction must not ask for it (BEGIN DEFERRED), or it waits out the busy timeout
    (10 s) and fails with "database is locked"."""
    store = metalive
    fill_every_table(store, ALICE, bookkeeping=False, recent=False)
    with store.engine.begin():
        dossier = read_dossier(store, ALICE)

    assert dossier.found is True


def test_the_dossier_reads_each_record_as_the_column_types_do(backend, secrets):
    """read_dossier reads the records on the driver (records.fetch_subject_records): each
    is field for field what Core's read of the same row gives (subject_records), its times
    aware in UTC, also when a PostgreSQL session's zone is not UTC (the read sets UTC for
    its own transaction only: the session's zone is as it was after it)."""
    url = backend.url
    if backend.name == "postgres":
        url = sa.make_url(url).update_query_dict({"options": "-c TimeZone=Asia/Tokyo"})
        url = url.render_as_string(hide_password=False)
    store = open_store(replace(backend, url=url), secrets, shipped_policy_toml("metalive"))
    try:
        fill_every_table(store, ALICE, bookkeeping=False, recent=False)
        tokyo = timezone(timedelta(hours=9))
        for index, now in enumerate([NOW + timedelta(microseconds=1),
                                     datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=tokyo)]):
            store.put_record(ALICE, "posting_log", "fraud_prevention",
                             {"ip": f"203.0.113.{index}", "at": "✓ é"}, now=now, source="chat")
        with store.engine.begin() as connection:  # one record changed since: three times apart
            connection.execute(sa.update(records).where(records.c.id == connection.execute(
                sa.select(sa.func.max(records.c.id))).scalar_one()).values(
                    updated_at=NOW + timedelta(hours=5, microseconds=7)))

        dossier = read_dossier(store, ALICE)
        if backend.name == "postgres":
            assert store.engine.pool.checkedin() == 1  # so the one the read used
            with store.engine.connect() as connection:
                assert connection.exec_driver_sql("SHOW TimeZone").scalar() == "Asia/Tokyo"
        core = store.subject_records(ALICE, now=NOW - timedelta(days=1))  # every one live
    finally:
        store.close()

    assert len(dossier.records) == len(core) >= 4
    assert dossier.records == core
    for record in dossier.records:
        for moment in (record.collected_at, record.updated_at, record.expires_at):
            assert moment.tzinfo is UTC
    assert dossier.records[-1].collected_at == datetime(2026, 3, 1, 23, 30, 15, 123456,
                                                        tzinfo=UTC)
