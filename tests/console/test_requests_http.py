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
from walletauth.store import console_counts
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
    console.post("/console/subject", {"address": wallet.address, "reason": "mail, ticket 41"})
    exported = act(console, wallet, "export", format="json")
    assert exported.status_code == 200, exported.text
    # The person sees in their own export that an operator looked them up, and why.
    (looked_up,) = [a for a in exported.json()["processing_log"]
                    if a["event"] == "operator_action"]
    assert looked_up["detail"]["action"] == "lookup"
    assert looked_up["detail"]["reason"] == "mail, ticket 41"
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


@pytest.mark.redis
def test_an_operator_run_erasure_ends_the_persons_sessions_held_in_redis(
    tmp_path, clock, operator, wallet, redis_url
):
    import httpx

    from tests.console.conftest import Console
    from tests.server.conftest import make_settings, serving

    settings = make_settings(tmp_path, operators=[operator.address], redis_url=redis_url)
    with serving(settings, clock) as (url, app), httpx.Client(base_url=url) as http:
        console = Console(url, app, http, operator)
        seeded(console, wallet)
        session = signed_in_bearer(http, wallet)
        http.cookies.clear()
        assert http.get("/me/requests", headers=session).status_code == 200
        console.sign_in()
        erased = act(console, wallet, "erase", confirm="ERASE")
        assert erased.status_code == 200, erased.text
        assert "&quot;sessions&quot;: 2" in erased.text  # the seed's sign-in and this one
        ended = http.get("/me/requests", headers=session)
        assert (ended.status_code, ended.json()["code"]) == (401, "session_revoked")


@pytest.mark.parametrize("fields", [
    {"action": "correct", "op": "delete", "record_id": "9" * 19},
    {"action": "correct", "op": "correct", "record_id": "1", "data": '{"email": {"x": 1}}'},
    {"action": "correct", "op": "add", "category": "nope", "purpose": "nope",
     "data": '{"a": 1}'},
    {"action": "correct", "op": "correct", "record_id": "1", "data": "[1, 2]"},
    {"action": "restrict", "purposes": ["nope"]},
    {"action": "restrict"},
    {"action": "fly"},
    {"action": "export", "format": "pdf"},
    {"action": "erase", "address": "0x1234"},
    {"action": "erase", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"},
    {"action": "stop-third-party", "channel": "pigeon"},
    {"action": "stop-third-party", "request_id": "x" * 41},
])
def test_a_bad_form_is_a_4xx_with_a_code_never_a_500(console, wallet, fields):
    seeded(console, wallet, records=1)
    console.sign_in()
    answer = act(console, wallet, **fields)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"]


def test_the_audit_screen_lists_operator_acts_by_wallet_and_names_no_subject(console, wallet):
    seeded(console, wallet)
    console.sign_in()
    console.post("/console/subject", {"address": wallet.address, "reason": "letter 7"})
    act(console, wallet, "stop-third-party", channel="post")
    screen = console.http.get("/console/audit")
    assert screen.status_code == 200
    rows = screen.text.split('id="operator-acts"')[1].split("<tr>")[2:]
    assert [("stop-third-party" in r, "lookup" in r, "sign_in" in r) for r in rows] == [
        (True, False, False), (False, True, False), (False, False, True)]
    assert console.operator.address in rows[0] and "letter 7" in rows[1]
    assert "channel: post" in rows[0]
    assert leaks(screen.text.encode(), wallet.address) == []
    console.host.operators = frozenset({console.operator.address, "0x" + "1" * 40})
    newest = console_counts.audit_page(console.runtime.store, event="operator_action", limit=1)
    assert newest[0].detail["action"] == "stop-third-party"
