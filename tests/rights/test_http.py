"""Each right end to end over HTTP, on SQLite and PostgreSQL, with eth-account signatures."""

from __future__ import annotations

import httpx
import pytest

from tests.rights.helpers import signed_request
from tests.server.conftest import Wallet, make_settings, serving, sign_in
from walletauth.rights.export_html import CONTENT_SECURITY_POLICY


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request, tmp_path, clock):
    overrides = {}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    with (serving(make_settings(tmp_path, **overrides), clock) as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield http, app.state.runtime


def signed_in(http, wallet):
    response = sign_in(http, wallet)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def code_of(response):
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.json()["code"]


def test_export_answers_json_csv_and_escaped_html(served, wallet, clock):
    http, runtime = served
    auth = signed_in(http, wallet)
    runtime.store.put_record(wallet.address, "contact_email", "service_provision",
                             {"email": "<script>alert(1)</script>@x.io"}, now=clock(),
                             source="signup")

    document = http.post("/me/export", json=signed_request(http, wallet, "export"), headers=auth)
    as_csv = http.post("/me/export?format=csv", json=signed_request(http, wallet, "export"),
                       headers=auth)
    as_html = http.post("/me/export?format=html&lang=en",
                        json=signed_request(http, wallet, "export"), headers=auth)

    assert document.status_code == 200, document.text
    body = document.json()
    assert body["subject"] == wallet.address
    assert {r["category"] for r in body["records"]} == {"wallet_address", "contact_email",
                                                         "access_log"}
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "contact_email" in as_csv.text
    assert as_html.headers["content-type"].startswith("text/html")
    assert "<script>" not in as_html.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@x.io" in as_html.text
    assert '<html lang="en">' in as_html.text
    assert as_html.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert {r.headers["cache-control"] for r in (document, as_csv, as_html)} == {"no-store"}


def test_erasure_ends_every_token_and_leaves_a_receipt_in_the_requests_log(served, wallet):
    http, _runtime = served
    auth = signed_in(http, wallet)
    second = signed_in(http, wallet)

    erased = http.post("/me/erase", json=signed_request(http, wallet, "erase"), headers=auth)

    assert erased.status_code == 200, erased.text
    receipt = erased.json()
    assert receipt["erased"]["wallet_address"] == 1
    assert receipt["sessions"] == 2 and receipt["retained"] == []
    for token in (auth, second):
        after = http.get("/auth/session", headers=token)
        assert after.status_code == 401 and code_of(after) == "session_revoked"
    again = signed_in(http, wallet)
    listed = http.get("/me/requests", headers=again).json()["requests"]
    assert [(r["id"], r["kind"], r["status"]) for r in listed] == [
        (receipt["receipt_id"], "erase", "completed")]


def test_corrections_restrictions_and_third_party_stop_over_http(served, wallet, clock):
    http, runtime = served
    auth = signed_in(http, wallet)
    record_id = runtime.store.put_record(wallet.address, "contact_email", "service_provision",
                                         {"email": "old@x.io"}, now=clock(), source="signup")

    corrected = http.post("/me/corrections", headers=auth, json={
        **signed_request(http, wallet, "correct"),
        "changes": [{"op": "correct", "record_id": record_id, "data": {"email": "new@x.io"}}]})
    runtime.store.set_consent(wallet.address, "partner_guidance", True, now=clock())
    restricted = http.post("/me/restrictions", headers=auth, json={
        **signed_request(http, wallet, "restrict"), "purposes": ["partner_guidance"]})
    suspended = runtime.store.subject_state(wallet.address).suspended
    lifted = http.post("/me/restrictions", headers=auth, json={
        **signed_request(http, wallet, "restrict"), "purposes": ["partner_guidance"],
        "lift": True})
    stopped = http.post("/me/third-party/stop", headers=auth,
                        json=signed_request(http, wallet, "stop-third-party"))

    assert [r.status_code for r in (corrected, restricted, lifted, stopped)] == [200] * 4
    [email] = runtime.store.records(wallet.address, "service_provision", now=clock(),
                                    category="contact_email")
    assert email.data == {"email": "new@x.io"}
    assert suspended == {"partner_guidance"}
    state = runtime.store.subject_state(wallet.address)
    assert state.suspended == frozenset() and state.third_party_stopped
    kinds = [r["kind"] for r in http.get("/me/requests", headers=auth).json()["requests"]]
    assert sorted(kinds) == ["correct", "lift-restriction", "restrict", "stop-third-party"]


def test_a_correction_of_data_the_user_did_not_supply_is_refused_and_logged(served, wallet):
    http, _runtime = served
    auth = signed_in(http, wallet)
    [wallet_record] = [r for r in http.post("/me/export", headers=auth, json=signed_request(
        http, wallet, "export")).json()["records"] if r["category"] == "wallet_address"]

    refused = http.post("/me/corrections", headers=auth, json={
        **signed_request(http, wallet, "correct"),
        "changes": [{"op": "delete", "record_id": wallet_record["id"]}]})

    assert refused.status_code == 422 and code_of(refused) == "not_user_supplied"
    statuses = {(r["kind"], r["status"], r["reason"])
                for r in http.get("/me/requests", headers=auth).json()["requests"]}
    assert ("correct", "denied", "not_user_supplied") in statuses


def test_wrong_request_replay_and_another_wallets_session_are_refused_with_stable_codes(
    served, wallet
):
    http, _runtime = served
    auth = signed_in(http, wallet)
    mallory = Wallet()
    mallory_auth = signed_in(http, mallory)

    for_export = signed_request(http, wallet, "export")
    wrong = http.post("/me/erase", json=for_export, headers=auth)
    first = http.post("/me/export", json=for_export, headers=auth)
    replay = http.post("/me/export", json=for_export, headers=auth)
    two_requests = http.post("/me/erase", headers=auth, json=signed_request(
        http, wallet, "erase", resources=["urn:walletauth:request:erase",
                                          "urn:walletauth:request:export"]))
    no_request = http.post("/me/erase", headers=auth,
                           json=signed_request(http, wallet, "erase", resources=None))
    foreign = http.post("/me/erase", json=signed_request(http, wallet, "erase"),
                        headers=mallory_auth)
    http.cookies.clear()
    unsigned = http.post("/me/erase", json=signed_request(http, wallet, "erase"))

    assert (wrong.status_code, code_of(wrong)) == (403, "wrong_request")
    assert first.status_code == 200
    assert (replay.status_code, code_of(replay)) == (401, "nonce_unknown")
    assert code_of(two_requests) == code_of(no_request) == "wrong_request"
    assert (foreign.status_code, code_of(foreign)) == (403, "signer_mismatch")
    assert (unsigned.status_code, code_of(unsigned)) == (401, "not_authenticated")
    assert http.get("/auth/session", headers=auth).status_code == 200  # nothing was erased
    # None got a signature refused: the replay repeats a proof already answered, the other
    # refusals came before the signature. None of them wrote anything.
    denied = [r["reason"] for r in http.get("/me/requests", headers=auth).json()["requests"]
              if r["status"] == "denied"]
    assert denied == []
    assert http.get("/me/requests", headers=mallory_auth).json()["requests"] == []


def test_a_correction_naming_a_record_id_beyond_any_row_is_refused_not_a_crash(served, wallet):
    http, _runtime = served
    auth = signed_in(http, wallet)

    refused = http.post("/me/corrections", headers=auth, json={
        **signed_request(http, wallet, "correct"),
        "changes": [{"op": "delete", "record_id": 2**70}]})

    assert (refused.status_code, code_of(refused)) == (404, "unknown_record")
