"""Third-party provisions over HTTP and the SDK, on SQLite and PostgreSQL (METALIVE): a
ground carries only the categories it names; every provision is recorded once, shown in
the export, kept through an erasure for the policy's record_retention (APPI Art. 29) and
listed in the receipt with its ground; purge removes it when that period ends."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.rights.helpers import signed_request
from tests.server.conftest import make_settings, serving, signed_in_bearer
from walletauth.sdk import ApiError, Client
from walletauth.server.config.services import hash_api_key, new_api_key

SHOP_KEY = new_api_key()
SHOP_PURPOSES = ["live_streaming", "support", "fraud_prevention", "analytics_marketing",
                 "advertising", "access_analysis", "email_information", "payment"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def metalive(request, tmp_path, clock):
    services = {"shop": {"api_key_sha256": hash_api_key(SHOP_KEY), "purposes": SHOP_PURPOSES}}
    overrides = {}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    settings = make_settings(tmp_path, policy="metalive", services=services, **overrides)
    with (serving(settings, clock) as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield url, http, app.state.runtime


def provide(http, wallet, ground, categories, recipient="Claimant KK", **extra):
    return http.post("/services/v1/provisions", headers={"Authorization": f"Bearer {SHOP_KEY}"},
                     json={"address": wallet.address, "recipient": recipient,
                           "categories": categories, "ground": ground, **extra})


def export(http, wallet, headers):
    response = http.post("/me/export", json=signed_request(http, wallet, "export"),
                         headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_ground_carries_only_the_categories_it_names(metalive, wallet):
    url, http, _runtime = metalive
    headers = signed_in_bearer(http, wallet)

    beyond_the_post = provide(http, wallet, "claimed_damage_disclosure", ["access_log"])
    statistics = provide(http, wallet, "anonymised_statistics", ["wallet_address"])
    mixed = provide(http, wallet, "claimed_damage_disclosure", ["contact_email", "device_info"])
    with Client(url, SHOP_KEY) as sdk, pytest.raises(ApiError) as through_sdk:
        sdk.record_provision(wallet.address, "Ad Network", ["contact_email"], "advertising_use")
    about_the_post = provide(http, wallet, "claimed_damage_disclosure", ["contact_email"])

    assert [(r.status_code, r.json()["code"]) for r in (beyond_the_post, statistics, mixed)] == [
        (422, "category_not_for_ground")] * 3
    assert (through_sdk.value.status, through_sdk.value.code) == (422, "category_not_for_ground")
    assert about_the_post.status_code == 201, about_the_post.text
    [recorded] = export(http, wallet, headers)["third_party_provisions"]
    assert (recorded["ground"], recorded["categories"]) == (
        "claimed_damage_disclosure", ["contact_email"])


def test_every_provision_is_in_the_export_and_outlives_the_erasure_until_purge(
    metalive, wallet, clock
):
    url, http, runtime = metalive
    headers = signed_in_bearer(http, wallet)
    assert provide(http, wallet, "criminal_investigation", ["contact_email"]).status_code == 201
    with Client(url, SHOP_KEY) as sdk:
        sdk.record_provision(wallet.address, "Contractor KK", ["access_log", "wallet_address"],
                             "outsourcing")
    grounds = [p["ground"] for p in export(http, wallet, headers)["third_party_provisions"]]

    erased = http.post("/me/erase", json=signed_request(http, wallet, "erase"), headers=headers)

    assert grounds == ["criminal_investigation", "outsourcing"]
    assert erased.status_code == 200, erased.text
    receipt = erased.json()
    retention = runtime.policy.third_party.record_retention
    assert receipt["third_party_provisions"] == 0
    assert [(p["ground"], p["count"], p["clause"], p["kept_by"])
            for p in receipt["retained_provisions"]] == [
        ("criminal_investigation", 1, "METALIVE アクセスログ等の記録、開示", "APPI Art. 29"),
        ("outsourcing", 1, "METALIVE 第三者提供の制限", "APPI Art. 29")]
    assert receipt["retained_provisions"][0]["ground_text"]["ja"] == (
        "犯罪捜査など法律手続の中で開示を要請された場合")
    assert receipt["retained_provisions"][0]["until"].startswith(
        (clock() + retention).date().isoformat())
    assert "wallet_address" in receipt["erased"]

    again = signed_in_bearer(http, wallet)  # the same wallet, signed in after its erasure
    after = export(http, wallet, again)
    assert [p["ground"] for p in after["third_party_provisions"]] == grounds
    assert {r["category"] for r in after["records"]} <= {"wallet_address", "access_log"}

    within = runtime.store.purge(now=clock() + retention - timedelta(days=1))
    ended = runtime.store.purge(now=clock() + retention + timedelta(days=1))

    assert within.provisions == 0
    assert ended.provisions == 2
    assert runtime.store.consent_history(wallet.address) == []
    assert runtime.store.subject_records(wallet.address, now=clock()) == []


def test_an_erasure_with_nothing_provided_still_keeps_nothing(metalive, wallet):
    _url, http, runtime = metalive
    headers = signed_in_bearer(http, wallet)

    erased = http.post("/me/erase", json=signed_request(http, wallet, "erase"), headers=headers)

    assert erased.status_code == 200, erased.text
    assert erased.json()["retained_provisions"] == []
    assert runtime.store.subject_state(wallet.address).consents == {}


def test_metalive_discloses_the_access_log_a_sign_in_kept(metalive, wallet):
    # アクセスログなどの個人情報以外の情報 is withheld by the text; a log filed under the wallet is
    # personal information, so none is withheld on that ground.
    _url, http, _runtime = metalive
    headers = signed_in_bearer(http, wallet)

    document = export(http, wallet, headers)

    [log] = [r for r in document["records"] if r["category"] == "access_log"]
    assert (log["purpose"], log["data"]["ip"]) == ("fraud_prevention", "127.0.0.0/24")
    assert document["withheld"] == []


def test_a_provision_withheld_on_a_statutory_ground_is_said_never_silent(metalive, wallet):
    url, http, _runtime = metalive
    headers = signed_in_bearer(http, wallet)
    secret = provide(http, wallet, "criminal_investigation", ["contact_email"],
                     recipient="Prefectural Police", withheld_from_disclosure="other_law")
    with Client(url, SHOP_KEY) as sdk:
        sdk.record_provision(wallet.address, "Prefectural Police", ["posting_log"],
                             "criminal_investigation",
                             withheld_from_disclosure="investigation_hindrance")
        sdk.record_provision(wallet.address, "Contractor KK", ["access_log"], "outsourcing")
    unknown = provide(http, wallet, "criminal_investigation", ["contact_email"],
                      withheld_from_disclosure="we_would_rather_not")

    document = export(http, wallet, headers)
    as_csv = http.post("/me/export?format=csv", headers=headers,
                       json=signed_request(http, wallet, "export")).text
    as_html = http.post("/me/export?format=html&lang=en", headers=headers,
                        json=signed_request(http, wallet, "export")).text
    erased = http.post("/me/erase", json=signed_request(http, wallet, "erase"), headers=headers)

    assert secret.status_code == 201, secret.text
    assert (unknown.status_code, unknown.json()["code"]) == (422, "invalid_request")
    assert [p["ground"] for p in document["third_party_provisions"]] == ["outsourcing"]
    assert [(w["section"], w["records"], w["clause"]) for w in document["withheld"]] == [
        ("third_party_provisions", 1, "APPI Art. 33(5) and its Enforcement Order"),
        ("third_party_provisions", 1, "APPI Art. 33(2)(iii)")]
    assert document["withheld"][1]["reason"]["ja"] == "他の法令に違反することとなる場合"
    for shown in (str(document), as_csv, as_html):
        assert "Police" not in shown and "criminal_investigation" not in shown
    assert "Disclosure would violate another law." in as_html
    assert "APPI Art. 33(2)(iii)" in as_csv
    receipt = erased.json()
    assert erased.status_code == 200 and "criminal_investigation" not in erased.text
    assert {(p["ground"], p["withheld"], p["count"])
            for p in receipt["retained_provisions"]} == {
        (None, "investigation_hindrance", 1), (None, "other_law", 1), ("outsourcing", None, 1)}
