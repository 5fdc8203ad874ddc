"""METALIVE's age rule over HTTP: the user confirms their age at PUT /me/age, the
operator's back office records a guardian's consent at POST /services/v1/guardian-consents,
and PUT /me/consents grants optional purposes only once the rule is met."""

import httpx
import pytest

from tests.server.conftest import make_settings, serving, sign_in
from walletauth.server.config.services import hash_api_key, new_api_key
from walletauth.store.subject_state import consents, suspend

OPTIONAL = "analytics_marketing"
BACK_OFFICE_KEY, CATALOGUE_KEY = new_api_key(), new_api_key()


@pytest.fixture
def metalive(tmp_path, clock):
    services = {
        "backoffice": {"api_key_sha256": hash_api_key(BACK_OFFICE_KEY),
                       "records_guardian_consent": True},
        "catalogue": {"api_key_sha256": hash_api_key(CATALOGUE_KEY),
                      "purposes": ["live_streaming"]},
    }
    settings = make_settings(tmp_path, policy="metalive", services=services)
    with serving(settings, clock) as (url, app), httpx.Client(base_url=url, timeout=30) as http:
        yield http, app.state.runtime


def bearer(client, wallet):
    return {"Authorization": f"Bearer {sign_in(client, wallet).json()['access_token']}"}


def grant(client, headers, granted=True):
    return client.put("/me/consents", json={"purpose": OPTIONAL, "granted": granted},
                      headers=headers)


def guardian_consent(client, address, granted=True, key=BACK_OFFICE_KEY, method="signed_form"):
    return client.post("/services/v1/guardian-consents",
                       json={"address": address, "granted": granted, "method": method},
                       headers={"Authorization": f"Bearer {key}"})


def test_a_grant_waits_for_the_age_confirmation_and_an_adult_then_grants(metalive, wallet):
    client, runtime = metalive
    headers = bearer(client, wallet)

    refused = grant(client, headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "age_confirmation_required")
    assert client.get("/me/consents", headers=headers).json()["age"] == {
        "guardian_consent_below": 13, "confirmed": False, "under_guardian_age": False,
        "guardian_consent": False,
    }

    confirmed = client.put("/me/age", json={"under_guardian_age": False}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["age"]["confirmed"] is True
    granted = grant(client, headers)
    assert granted.status_code == 200, granted.text
    assert granted.json()["consents"][OPTIONAL] is True
    assert granted.json()["on_hold"] == {}
    assert consents(runtime.store, wallet.address)[OPTIONAL] is True


def test_under_13_needs_the_guardian_consent_recorded_by_the_back_office(metalive, wallet):
    client, runtime = metalive
    headers = bearer(client, wallet)
    client.put("/me/age", json={"under_guardian_age": True}, headers=headers)

    refused = grant(client, headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "guardian_consent_required")

    recorded = guardian_consent(client, wallet.address)
    assert recorded.status_code == 200, recorded.text
    assert recorded.json() == {"guardian_consent": True}
    assert grant(client, headers).status_code == 200
    view = client.get("/me/consents", headers=headers).json()
    assert view["consents"][OPTIONAL] is True
    assert view["age"] == {"guardian_consent_below": 13, "confirmed": True,
                           "under_guardian_age": True, "guardian_consent": True}
    evidence = {r.category: r.data for r in runtime.store.subject_records(
        wallet.address, now=runtime.clock())}
    assert evidence["age_confirmation"]["under_guardian_age"] is True
    assert evidence["guardian_consent"]["method"] == "signed_form"
    assert "birth" not in str(evidence)


def test_a_guardian_withdrawal_puts_granted_purposes_on_hold(metalive, wallet):
    client, _runtime = metalive
    headers = bearer(client, wallet)
    client.put("/me/age", json={"under_guardian_age": True}, headers=headers)
    guardian_consent(client, wallet.address)
    grant(client, headers)

    assert guardian_consent(client, wallet.address, granted=False).status_code == 200

    view = client.get("/me/consents", headers=headers).json()
    assert view["on_hold"] == {OPTIONAL: "guardian_consent_required"}
    assert view["age"]["guardian_consent"] is False


def test_withdrawing_is_always_possible(metalive, wallet):
    client, _runtime = metalive
    headers = bearer(client, wallet)
    assert grant(client, headers, granted=False).status_code == 200  # no age on record
    client.put("/me/age", json={"under_guardian_age": True}, headers=headers)
    assert grant(client, headers, granted=False).status_code == 200  # no guardian either
    assert client.get("/me/consents", headers=headers).json()["consents"][OPTIONAL] is False


def test_a_child_cannot_give_the_guardian_consent_themselves(metalive, wallet):
    client, runtime = metalive
    headers = bearer(client, wallet)
    client.put("/me/age", json={"under_guardian_age": True}, headers=headers)

    own_session = client.post("/services/v1/guardian-consents", headers=headers,
                              json={"address": wallet.address, "granted": True,
                                    "method": "signed_form"})
    other_service = guardian_consent(client, wallet.address, key=CATALOGUE_KEY)
    declared_adult = client.put("/me/age", json={"under_guardian_age": False}, headers=headers)

    assert (own_session.status_code, own_session.json()["code"]) == (401, "service_unauthorized")
    assert (other_service.status_code, other_service.json()["code"]) == (
        403, "guardian_consent_not_delegated")
    assert (declared_adult.status_code, declared_adult.json()["code"]) == (
        409, "age_confirmation_final")
    state = runtime.store.subject_state(wallet.address)
    assert (state.under_guardian_age, state.guardian_consent) == (True, False)
    assert grant(client, headers).json()["code"] == "guardian_consent_required"


def test_an_adult_may_say_they_are_under_13_after_all(metalive, wallet):
    client, _runtime = metalive
    headers = bearer(client, wallet)
    client.put("/me/age", json={"under_guardian_age": False}, headers=headers)
    grant(client, headers)

    again = client.put("/me/age", json={"under_guardian_age": True}, headers=headers)

    assert again.status_code == 200
    assert again.json()["on_hold"] == {OPTIONAL: "guardian_consent_required"}


@pytest.mark.parametrize("body, code", [
    ({"address": "0x" + "12" * 20, "granted": True, "method": "signed_form"}, "unknown_subject"),
    ({"address": "not an address", "granted": True, "method": "signed_form"}, "invalid_address"),
    ({"address": None, "granted": True, "method": "Taro Yamada (father)"}, "invalid_argument"),
    ({"address": None, "granted": "maybe", "method": "signed_form"}, "invalid_request"),
])
def test_a_bad_guardian_consent_is_refused_with_its_code(metalive, wallet, body, code):
    client, runtime = metalive
    sign_in(client, wallet)
    body = {**body, "address": body["address"] or wallet.address}

    response = client.post("/services/v1/guardian-consents", json=body,
                           headers={"Authorization": f"Bearer {BACK_OFFICE_KEY}"})

    assert 400 <= response.status_code < 500
    assert response.json()["code"] == code
    assert runtime.store.subject_state(wallet.address).guardian_consent is False


def test_the_age_route_needs_a_session_and_a_yes_or_no(metalive):
    client, _runtime = metalive
    assert client.put("/me/age", json={"under_guardian_age": True}).status_code == 401


def test_without_an_age_rule_nothing_is_recorded(client, wallet, runtime):
    headers = bearer(client, wallet)

    age = client.put("/me/age", json={"under_guardian_age": False}, headers=headers)
    view = client.get("/me/consents", headers=headers).json()

    assert (age.status_code, age.json()["code"]) == (422, "no_age_rule")
    assert view["age"] is None
    kinds = {event.kind for event in runtime.store.consent_history(wallet.address)}
    assert "age_confirmation" not in kinds


def test_the_consents_view_lists_suspended_purposes(client, wallet, runtime):
    headers = bearer(client, wallet)
    client.put("/me/consents", json={"purpose": "quality_marketing", "granted": True},
               headers=headers)
    suspend(runtime.store, wallet.address, "quality_marketing", now=runtime.clock())

    view = client.get("/me/consents", headers=headers).json()

    assert view["suspended"] == ["quality_marketing"]
    assert view["on_hold"] == {"quality_marketing": "purpose_suspended"}
