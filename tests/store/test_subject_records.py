"""The subject's own access request (``Store.subject_records``) at its edges, and the
session check's answer to what is no session id. Found by mutation testing
(benchmarks/README.md, "Mutation testing")."""

from __future__ import annotations

from datetime import timedelta

from tests.store.conftest import ALICE, NOW
from tests.store.test_purge_report import subject_id
from walletauth.store.schema import subjects

HOUR = timedelta(hours=1)


def test_every_live_record_comes_in_the_order_it_was_first_kept(store):
    store.record_login(ALICE, 1, now=NOW)
    store.put_record(
        ALICE, "contact_email", "service_provision", {"email": "a@x.io"}, now=NOW, source="test"
    )
    # Updates the wallet record, kept before the email: PostgreSQL writes the new row
    # version after the others, so only the ORDER BY keeps the ids in order.
    store.record_login(ALICE, 1, now=NOW + HOUR)

    mine = store.subject_records(ALICE, now=NOW + HOUR)

    assert [r.id for r in mine] == sorted(r.id for r in mine)
    assert sorted(r.category for r in mine) == [
        "access_log",
        "access_log",
        "contact_email",
        "wallet_address",
    ]
    [wallet] = [r for r in mine if r.category == "wallet_address"]
    assert wallet.data["last_sign_in"] == (NOW + HOUR).isoformat()


def test_a_record_is_not_handed_out_at_its_expiry_instant(store):
    store.put_record(
        ALICE, "contact_email", "service_provision", {"email": "a@x.io"}, now=NOW, source="test"
    )
    [email] = store.subject_records(ALICE, now=NOW)

    assert store.subject_records(ALICE, now=email.expires_at - timedelta(microseconds=1))
    assert store.subject_records(ALICE, now=email.expires_at) == []


def test_once_the_subjects_key_is_destroyed_nothing_of_theirs_is_read(store):
    """What a reader sees when an erasure commits between its read of the rows and of the
    key: rows, and no key to open them with."""
    store.record_login(ALICE, 1, now=NOW)
    with store.engine.connect() as connection:
        key_id = (
            connection.execute(subjects.select().where(subjects.c.id == subject_id(store, ALICE)))
            .one()
            .key_id
        )

    store.keys.destroy([key_id])

    assert store.subject_records(ALICE, now=NOW) == []


def test_what_is_no_session_id_is_no_active_session(store):
    store.create_session("session-of-alice-0123456789", ALICE, expires_at=NOW + HOUR)

    for not_an_id in (None, 12345, b"session-of-alice-0123456789"):
        assert store.session_active(not_an_id, now=NOW) is False
    assert store.session_active("session-of-alice-0123456789", now=NOW) is True
