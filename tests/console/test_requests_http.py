"""The requests inbox over HTTP: finding a person by address, acting on their request
through the rights layer, each act audited with its operator and reason; an erasure the
operator runs leaves no more of the address than one the wallet asks for itself."""

from __future__ import annotations

import json
import logging

import pytest

from tests.rights.helpers import leaks
from tests.rights.test_nothing_left import postgres_dump, raw_files
from tests.server.conftest import signed_in_bearer
from walletauth import rights
from walletauth.console.session import ConsoleSessions
from walletauth.store.audit import audit_entries
from walletauth.store.requests_log import open_request


def seeded(console, wallet, records: int = 3) -> None:
    """The person signed in once and left records and a consent behind."""
    forwarded = {"X-Forwarded-For": "203.0.113.9", "User-Agent": "Mozilla/5.0 Firefox/130.0"}
    nonce = console.http.get("/auth/nonce", headers=forwarded).json()["nonce"]
    assert console.http.post("/auth/verify", json=wallet.signed_body(nonce),
                             headers=forwarded).status_code == 200
    console.http.cookies.clear()
    store, now = console.runtime.store, console.runtime.clock()
    for index in range(records):
        store.put_record(wallet.address, "contact_email", "service_provision",
                         {"email": f"{wallet.address.lower()}+{index}@x.io"}, now=now,
                         source="signup")
    store.set_consent(wallet.address, "quality_marketing", True, now=now)


def records_of(console, wallet) -> list:
    return console.runtime.store.subject_records(wallet.address, now=console.runtime.clock())


def act(console, wallet, action: str, **fields) -> object:
    form = {"address": wallet.address, "action": action, "channel": "email",
            "identity_check": "registered-email", "reason": "mail of 2 Dec, ticket 41",
            **fields}
    return console.post("/console/act", form)


def operator_entries(console) -> list:
    return [e for e in audit_entries(console.runtime.store) if e.event == "operator_action"]


def test_finding_a_person_shows_their_records_and_is_audited(console, wallet):
    seeded(console, wallet)
    console.sign_in()
    found = console.post("/console/subject", {"address": wallet.address.lower(),
                                              "reason": "letter of 30 Nov"})
    assert found.status_code == 200, found.text
    assert wallet.address in found.text and "contact_email" in found.text
    assert found.headers["cache-control"] == "no-store"
    lookup = operator_entries(console)[-1]
    assert lookup.detail["action"] == "lookup"
    assert lookup.detail["reason"] == "letter of 30 Nov"
    assert lookup.detail["operator"] == ConsoleSessions(console.host.key).operator_ref(
        console.operator.address)
    assert lookup.detail["found"] is True


def test_the_inbox_never_lists_an_address(console, wallet):
    seeded(console, wallet)
    open_request(console.runtime.store, wallet.address, "erase:catalogue",
                 now=console.runtime.clock())
    console.sign_in()
    inbox = console.http.get("/console/requests")
    assert "erase:catalogue" in inbox.text
    assert leaks(inbox.text.encode(), wallet.address) == []


def test_an_act_without_a_reason_is_refused_and_changes_nothing(console, wallet):
    seeded(console, wallet)
    console.sign_in()
    before = records_of(console, wallet)
    refused = act(console, wallet, "erase", reason="", confirm="ERASE")
    assert (refused.status_code, refused.json()["code"]) == (422, "console_form_invalid")
    assert records_of(console, wallet) == before


def test_an_erasure_needs_its_confirmation(console, wallet):
    seeded(console, wallet)
    console.sign_in()
    refused = act(console, wallet, "erase", confirm="yes")
    assert (refused.status_code, refused.json()["code"]) == (422, "console_form_invalid")
    assert console.runtime.store.subject_records(wallet.address, now=console.runtime.clock())
    assert operator_entries(console)[-1].detail["outcome"] == "console_form_invalid"


def test_a_reason_naming_an_address_is_refused(console, wallet):
    seeded(console, wallet)
    console.sign_in()
    refused = act(console, wallet, "stop-third-party", reason=f"asked by {wallet.address}")
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_argument"


def test_the_export_downloads_as_a_file(console, wallet):
    seeded(console, wallet)
    console.sign_in()
    exported = act(console, wallet, "export", format="json")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-disposition"] == (
        'attachment; filename="walletauth-export.json"')
    document = exported.json()
    assert len([r for r in document["records"] if r["category"] == "contact_email"]) == 3
    csv = act(console, wallet, "export", format="csv")
    assert csv.headers["content-type"].startswith("text/csv")
    entry = operator_entries(console)[-1]
    assert entry.detail["action"] == "export"
    assert entry.detail["channel"] == "email"
    assert entry.detail["identity_check"] == "registered-email"
    assert entry.detail["request"].startswith("req_")


def test_restriction_correction_and_stop_go_through_the_rights_layer(console, wallet):
    seeded(console, wallet)
    console.sign_in()
    store, now = console.runtime.store, console.runtime.clock()
    restricted = act(console, wallet, "restrict", purposes=["quality_marketing"])
    assert restricted.status_code == 200, restricted.text
    assert "quality_marketing" in store.subject_state(wallet.address).suspended
    record = next(r for r in store.subject_records(wallet.address, now=now)
                  if r.category == "contact_email")
    corrected = act(console, wallet, "correct", op="correct", record_id=str(record.id),
                    data=json.dumps({"email": "new@x.io"}))
    assert corrected.status_code == 200, corrected.text
    assert {r.data.get("email") for r in store.subject_records(wallet.address, now=now)} >= {
        "new@x.io"}
    stopped = act(console, wallet, "stop-third-party")
    assert stopped.status_code == 200
    assert store.subject_state(wallet.address).third_party_stopped
    kinds = [e.kind for e in rights.list_requests(store, wallet.address)]
    assert sorted(kinds) == ["correct", "restrict", "stop-third-party"]  # one clock time


def test_a_request_a_service_handed_over_is_closed_by_the_act(console, wallet):
    seeded(console, wallet)
    store = console.runtime.store
    handed = open_request(store, wallet.address, "stop-third-party:catalogue",
                          now=console.runtime.clock())
    console.sign_in()
    done = act(console, wallet, "stop-third-party", request_id=handed)
    assert done.status_code == 200, done.text
    entry = next(e for e in rights.list_requests(store, wallet.address) if e.id == handed)
    assert entry.status == "completed"
    assert entry.detail["completed_by"].startswith("req_")
    assert operator_entries(console)[-1].detail["closes"] == handed


def test_a_request_id_of_someone_else_is_refused(console, wallet):
    from tests.server.conftest import Wallet

    seeded(console, wallet)
    other = Wallet()
    handed = open_request(console.runtime.store, other.address, "erase:catalogue",
                          now=console.runtime.clock())
    console.sign_in()
    refused = act(console, wallet, "stop-third-party", request_id=handed)
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_argument"


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_an_operator_run_erasure_leaves_no_copy_of_the_address(console, wallet, logs,
                                                               database, tmp_path):
    seeded(console, wallet, records=20)
    session = signed_in_bearer(console.http, wallet)
    console.http.cookies.clear()
    console.sign_in()
    found = console.post("/console/subject", {"address": wallet.address,
                                              "reason": "letter, lost wallet"})
    assert found.status_code == 200
    erased = act(console, wallet, "erase", confirm="ERASE", channel="post",
                 identity_check="identity-document")
    assert erased.status_code == 200, erased.text
    assert "&quot;contact_email&quot;: 20" in erased.text
    if database is None:
        files = raw_files(tmp_path / "data")
        assert any(name.endswith(".sqlite3-wal") for name in files)
        assert {name: leaks(blob, wallet.address) for name, blob in files.items()
                if leaks(blob, wallet.address)} == {}
    else:
        dump = postgres_dump(database)
        assert b"rights_requests" in dump
        assert leaks(dump, wallet.address) == []
    service = [r for r in logs.records if r.name.startswith(("walletauth", "uvicorn"))]
    assert leaks("\n".join(r.getMessage() for r in service).encode(), wallet.address) == []
    erasure = operator_entries(console)[-1]
    assert erasure.detail["action"] == "erase"
    assert erasure.detail["channel"] == "post"
    assert erasure.detail["identity_check"] == "identity-document"
    assert erasure.subject_ref is None  # the erasure cut the link, as a self-service one does
    # The person's own sessions ended with it, as with a self-service erasure.
    ended = console.http.get("/me/requests", headers=session)
    assert (ended.status_code, ended.json()["code"]) == (401, "session_revoked")
