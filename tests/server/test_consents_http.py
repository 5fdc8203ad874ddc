"""Consents and the policy over HTTP."""

from tests.server.conftest import sign_in
from walletauth.store.subject_state import consents


def signed_in_headers(client, wallet):
    return {"Authorization": f"Bearer {sign_in(client, wallet).json()['access_token']}"}


def test_granting_and_withdrawing_changes_the_store(client, wallet, runtime):
    headers = signed_in_headers(client, wallet)
    before = client.get("/me/consents", headers=headers).json()["consents"]
    assert before == consents(runtime.store, wallet.address)
    granted = client.put(
        "/me/consents", json={"purpose": "quality_marketing", "granted": True}, headers=headers
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["consents"]["quality_marketing"] is True
    assert consents(runtime.store, wallet.address)["quality_marketing"] is True
    several = client.put(
        "/me/consents",
        json={"consents": {"quality_marketing": False, "partner_guidance": True}},
        headers=headers,
    )
    assert several.status_code == 200
    assert consents(runtime.store, wallet.address) | {} == several.json()["consents"]
    assert several.json()["consents"]["quality_marketing"] is False
    assert several.json()["consents"]["partner_guidance"] is True


def test_an_unknown_purpose_changes_nothing(client, wallet, runtime):
    headers = signed_in_headers(client, wallet)
    before = consents(runtime.store, wallet.address)
    response = client.put(
        "/me/consents",
        json={"consents": {"quality_marketing": True, "no_such_purpose": True}},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_purpose"
    assert consents(runtime.store, wallet.address) == before


def test_a_necessary_purpose_cannot_be_withdrawn(client, wallet):
    headers = signed_in_headers(client, wallet)
    response = client.put(
        "/me/consents", json={"purpose": "service_provision", "granted": False}, headers=headers
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


def test_consents_need_a_signed_in_wallet(client):
    assert client.get("/me/consents").status_code == 401
    response = client.put("/me/consents", json={"purpose": "quality_marketing", "granted": True})
    assert response.status_code == 401


def test_the_policy_renders_in_japanese_and_english(client):
    ja = client.get("/policy", params={"lang": "ja"}).json()
    en = client.get("/policy", params={"lang": "en"}).json()
    assert (ja["id"], ja["lang"], en["lang"]) == ("abcrecords", "ja", "en")
    assert ja["name"] != en["name"]
    assert client.get("/policy").json()["lang"] == "ja"
    assert client.get("/policy", params={"lang": "fr"}).status_code == 422
