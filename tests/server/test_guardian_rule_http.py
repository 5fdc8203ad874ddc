"""METALIVE's 13 歳未満の個人から法定代理人の同意なく個人に関する情報を収集しないよう留意します
over HTTP and the SDK, on SQLite and PostgreSQL: until a guardian's consent is on record,
nothing about a user confirmed under 13 is kept but the wallet record and the age rule's
records; every other write is refused with ``guardian_consent_required``."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.rights.helpers import signed_request
from tests.server.conftest import make_settings, serving, sign_in, signed_in_bearer
from walletauth.sdk import ApiError, Client
from walletauth.server.config.services import hash_api_key, new_api_key
from walletauth.store.audit import audit_entries

BACK_OFFICE_KEY, SHOP_KEY = new_api_key(), new_api_key()
KEPT_FOR_A_CHILD = {"wallet_address", "age_confirmation"}
WRITES = [  # what METALIVE's services would keep about a user (category, purpose, data)
    ("contact_email", "support", {"email": "kid@example.org"}),
    ("inquiry", "support", {"message": "hello", "received_at": "2026-01-01T00:00:00Z"}),
    ("payment_reference", "payment",
     {"provider": "card", "reference": "tx-1", "amount": 100, "at": "2026-01-01T00:00:00Z"}),
    ("device_info", "fraud_prevention", {"browser": "Mozilla/5.0 Firefox/120.0", "os": "iOS"}),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def metalive(request, tmp_path, clock):
    services = {
        "backoffice": {"api_key_sha256": hash_api_key(BACK_OFFICE_KEY),
                       "records_guardian_consent": True},
        "shop": {"api_key_sha256": hash_api_key(SHOP_KEY),
                 "purposes": ["live_streaming", "support", "payment", "fraud_prevention"]},
    }
    overrides = {}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    settings = make_settings(tmp_path, policy="metalive", services=services, **overrides)
    with (serving(settings, clock) as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield url, http, app.state.runtime


def kept(runtime, wallet):
    return sorted(r.category for r in runtime.store.subject_records(
        wallet.address, now=runtime.clock()))


def put_record(http, wallet, category, purpose, data):
    return http.post("/services/v1/records", headers={"Authorization": f"Bearer {SHOP_KEY}"},
                     json={"address": wallet.address, "category": category,
                           "purpose": purpose, "data": data})


def guardian_consent(http, wallet):
    response = http.post("/services/v1/guardian-consents",
                         headers={"Authorization": f"Bearer {BACK_OFFICE_KEY}"},
                         json={"address": wallet.address, "granted": True,
                               "method": "signed_form"})
    assert response.status_code == 200, response.text


def test_the_age_answer_discards_what_the_first_sign_in_kept(metalive, wallet):
    _url, http, runtime = metalive
    headers = signed_in_bearer(http, wallet)
    assert kept(runtime, wallet) == ["access_log", "wallet_address"]  # age not known yet

    answered = http.put("/me/age", json={"under_guardian_age": True}, headers=headers)

    assert answered.status_code == 200, answered.text
    assert set(kept(runtime, wallet)) == KEPT_FOR_A_CHILD
    [entry] = [a for a in audit_entries(runtime.store, wallet.address)
               if a.event == "age_confirmation"]
    assert entry.detail["discarded"] == 1


def test_a_childs_sign_in_keeps_the_wallet_record_alone(metalive, wallet, clock):
    _url, http, runtime = metalive
    headers = signed_in_bearer(http, wallet)
    http.put("/me/age", json={"under_guardian_age": True}, headers=headers)

    clock.advance(timedelta(minutes=5))
    again = sign_in(http, wallet)

    assert again.status_code == 200, again.text
    assert set(kept(runtime, wallet)) == KEPT_FOR_A_CHILD
    [record] = runtime.store.records(wallet.address, "live_streaming", now=clock(),
                                     category="wallet_address")
    assert record.data["last_sign_in"] == clock().isoformat()


def test_every_other_write_is_refused_until_a_guardian_consents(metalive, wallet):
    url, http, runtime = metalive
    headers = signed_in_bearer(http, wallet)
    http.put("/me/age", json={"under_guardian_age": True}, headers=headers)

    refused = [put_record(http, wallet, *write) for write in WRITES]
    added = http.post("/me/corrections", headers=headers, json={
        **signed_request(http, wallet, "correct"),
        "changes": [{"op": "add", "category": "contact_email", "purpose": "support",
                     "data": {"email": "kid@example.org"}}]})
    with Client(url, SHOP_KEY) as sdk, pytest.raises(ApiError) as through_sdk:
        sdk.put_record(wallet.address, "contact_email", "support", {"email": "kid@example.org"})

    assert [(r.status_code, r.json()["code"]) for r in [*refused, added]] == [
        (403, "guardian_consent_required")] * (len(WRITES) + 1)
    assert (through_sdk.value.status, through_sdk.value.code) == (
        403, "guardian_consent_required")
    assert set(kept(runtime, wallet)) == KEPT_FOR_A_CHILD


def test_once_the_guardian_consents_the_service_may_keep_what_it_needs(metalive, wallet):
    url, http, runtime = metalive
    headers = signed_in_bearer(http, wallet)
    http.put("/me/age", json={"under_guardian_age": True}, headers=headers)
    guardian_consent(http, wallet)

    written = [put_record(http, wallet, *write) for write in WRITES]
    with Client(url, SHOP_KEY) as sdk:
        through_sdk = sdk.put_record(wallet.address, "contact_email", "support",
                                     {"email": "parent@example.org"})
    signed_in_again = sign_in(http, wallet)

    assert [r.status_code for r in written] == [201] * len(WRITES), [r.text for r in written]
    assert through_sdk > 0 and signed_in_again.status_code == 200
    assert set(kept(runtime, wallet)) == KEPT_FOR_A_CHILD | {
        "guardian_consent", "access_log", *(category for category, _p, _d in WRITES)}


def test_an_adult_is_not_held_back(metalive, wallet):
    _url, http, runtime = metalive
    headers = signed_in_bearer(http, wallet)
    http.put("/me/age", json={"under_guardian_age": False}, headers=headers)

    written = [put_record(http, wallet, *write) for write in WRITES]

    assert [r.status_code for r in written] == [201] * len(WRITES), [r.text for r in written]
    assert "access_log" in kept(runtime, wallet)


def test_a_guardians_withdrawal_stops_further_collection(metalive, wallet):
    _url, http, runtime = metalive
    headers = signed_in_bearer(http, wallet)
    http.put("/me/age", json={"under_guardian_age": True}, headers=headers)
    guardian_consent(http, wallet)
    assert put_record(http, wallet, *WRITES[0]).status_code == 201

    withdrawn = http.post("/services/v1/guardian-consents",
                          headers={"Authorization": f"Bearer {BACK_OFFICE_KEY}"},
                          json={"address": wallet.address, "granted": False,
                                "method": "signed_form"})
    refused = put_record(http, wallet, *WRITES[1])

    assert withdrawn.status_code == 200, withdrawn.text
    assert (refused.status_code, refused.json()["code"]) == (403, "guardian_consent_required")
    assert "inquiry" not in kept(runtime, wallet)
    assert "contact_email" in kept(runtime, wallet)  # kept while the consent stood
