"""The service API client against a real walletauth server on loopback (SQLite)."""

from __future__ import annotations

import httpx
import pytest

from tests.rights.helpers import signed_request
from tests.server.conftest import Clock as ServerClock
from tests.server.conftest import Wallet, free_socket, make_settings, serving, sign_in
from walletauth.sdk import ApiError, AsyncClient, Client, Permission, SdkError
from walletauth.server.config.services import hash_api_key, new_api_key

MUSIC_KEY = new_api_key()
MUSIC_PURPOSES = ["service_provision", "quality_marketing"]


@pytest.fixture
def walletauth(tmp_path):
    services = {"music": {"api_key_sha256": hash_api_key(MUSIC_KEY), "purposes": MUSIC_PURPOSES}}
    with (serving(make_settings(tmp_path, services=services), ServerClock()) as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield url, http, app.state.runtime


@pytest.fixture
def wallet() -> Wallet:
    return Wallet()


@pytest.fixture
def client(walletauth):
    url, _http, _runtime = walletauth
    with Client(url, MUSIC_KEY) as made:
        yield made


def signed_in(http, wallet) -> dict[str, str]:
    response = sign_in(http, wallet)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def set_consent(http, auth, purpose, granted):
    response = http.put("/me/consents", json={"purpose": purpose, "granted": granted},
                        headers=auth)
    assert response.status_code == 200, response.text


def test_allowed_follows_the_users_consent(walletauth, client, wallet):
    _url, http, _runtime = walletauth
    auth = signed_in(http, wallet)

    before = client.allowed(wallet.address, "quality_marketing")
    set_consent(http, auth, "quality_marketing", True)
    granted = client.allowed(wallet.address, "quality_marketing")
    set_consent(http, auth, "quality_marketing", False)
    withdrawn = client.allowed(wallet.address, "quality_marketing")

    assert before == Permission(allowed=False, reason="consent_required")
    assert granted == Permission(allowed=True, reason=None) and granted
    assert withdrawn == Permission(allowed=False, reason="consent_required")


def test_allowed_flips_when_the_user_suspends_a_purpose_and_back_when_lifted(
    walletauth, client, wallet
):
    _url, http, _runtime = walletauth
    auth = signed_in(http, wallet)
    assert client.allowed(wallet.address, "service_provision").allowed

    def restriction(lift):
        body = {**signed_request(http, wallet, "restrict"), "purposes": ["quality_marketing"],
                "lift": lift}
        assert http.post("/me/restrictions", json=body, headers=auth).status_code == 200

    set_consent(http, auth, "quality_marketing", True)
    restriction(lift=False)
    suspended = client.allowed(wallet.address, "quality_marketing")
    restriction(lift=True)

    assert suspended == Permission(allowed=False, reason="purpose_suspended")
    assert client.allowed(wallet.address, "quality_marketing").allowed


def test_a_purpose_not_granted_to_the_service_is_never_allowed_nor_usable(
    walletauth, client, wallet
):
    _url, http, _runtime = walletauth
    auth = signed_in(http, wallet)
    set_consent(http, auth, "partner_guidance", True)

    permission = client.allowed(wallet.address, "partner_guidance")
    with pytest.raises(ApiError) as write:
        client.put_record(wallet.address, "contact_email", "partner_guidance", {"email": "a@b.c"})
    with pytest.raises(ApiError) as read:
        client.records(wallet.address, "partner_guidance")

    assert permission == Permission(allowed=False, reason="purpose_not_granted_to_service")
    assert write.value.code == read.value.code == "purpose_not_granted_to_service"
    assert write.value.status == 403


def test_an_unknown_or_erased_subject_is_not_allowed(walletauth, client, wallet):
    _url, http, _runtime = walletauth
    stranger = Wallet()
    auth = signed_in(http, wallet)
    assert client.allowed(wallet.address, "service_provision").allowed

    erased = http.post("/me/erase", json=signed_request(http, wallet, "erase"), headers=auth)
    assert erased.status_code == 200, erased.text

    nobody = Permission(allowed=False, reason="unknown_subject")
    assert client.allowed(stranger.address, "service_provision") == nobody
    assert client.allowed(wallet.address, "service_provision") == nobody
    assert client.records(wallet.address, "service_provision") == []


def test_a_bad_api_key_is_refused_with_a_typed_401(walletauth, wallet):
    url, _http, _runtime = walletauth
    with Client(url, new_api_key()) as stranger, pytest.raises(ApiError) as refused:
        stranger.allowed(wallet.address, "service_provision")
    assert refused.value.code == "service_unauthorized" and refused.value.status == 401
    with pytest.raises(SdkError) as malformed:
        Client(url, "not-a-service-key")
    assert malformed.value.code == "service_unauthorized"


def test_records_go_through_the_stores_rules(walletauth, client, wallet):
    _url, http, _runtime = walletauth
    auth = signed_in(http, wallet)

    record_id = client.put_record(wallet.address, "contact_email", "service_provision",
                                  {"email": "fan@example.org"})
    with pytest.raises(ApiError) as without_consent:
        client.put_record(wallet.address, "inquiry", "quality_marketing", {"message": "hi"})
    with pytest.raises(ApiError) as undeclared:
        client.put_record(wallet.address, "contact_email", "service_provision", {"phone": "1"})
    emails = client.records(wallet.address, "service_provision", category="contact_email")

    assert [(r.id, r.category, dict(r.data)) for r in emails] == [
        (record_id, "contact_email", {"email": "fan@example.org"})]
    assert without_consent.value.code == "consent_required"
    assert undeclared.value.code == "field_not_allowed"
    set_consent(http, auth, "quality_marketing", True)
    assert client.put_record(wallet.address, "inquiry", "quality_marketing",
                             {"message": "hi"}) > record_id


def test_a_provision_is_recorded_until_the_user_stops_third_party_provision(
    walletauth, client, wallet
):
    _url, http, runtime = walletauth
    auth = signed_in(http, wallet)
    # The ground's consent is taken by the operator's own flow, not by /me/consents.
    runtime.store.set_consent(wallet.address, "prior_consent", True, now=runtime.clock())

    client.record_provision(wallet.address, "Label Co.", ["contact_email"], "prior_consent")
    stopped = http.post("/me/third-party/stop", headers=auth,
                        json=signed_request(http, wallet, "stop-third-party"))
    assert stopped.status_code == 200, stopped.text
    with pytest.raises(ApiError) as refused:
        client.record_provision(wallet.address, "Label Co.", ["contact_email"], "prior_consent")

    assert refused.value.code == "third_party_stopped"
    export = http.post("/me/export", json=signed_request(http, wallet, "export"), headers=auth)
    assert [p["recipient"] for p in export.json()["third_party_provisions"]] == ["Label Co."]


def test_a_forwarded_request_is_logged_as_received_and_nothing_is_done(
    walletauth, client, wallet
):
    _url, http, _runtime = walletauth
    auth = signed_in(http, wallet)

    request_id = client.forward_request(wallet.address, "erase")

    listed = http.get("/me/requests", headers=auth).json()["requests"]
    assert [(r["id"], r["kind"], r["status"]) for r in listed] == [
        (request_id, "erase:music", "received")]
    assert http.get("/auth/session", headers=auth).status_code == 200  # not erased


def test_bad_input_gets_a_stable_code(walletauth, client):
    with pytest.raises(ApiError) as refused:
        client.allowed("0xnot-an-address", "service_provision")
    assert refused.value.code == "invalid_address" and refused.value.status == 400


def test_an_unreachable_walletauth_is_a_typed_error_after_the_retries():
    closed = free_socket()
    host, port = closed.getsockname()
    closed.close()  # nothing listens there any more: connections are refused
    with Client(f"http://{host}:{port}", MUSIC_KEY, retries=2, timeout=1) as offline, \
            pytest.raises(SdkError) as failed:
        offline.allowed(Wallet().address, "service_provision")
    assert failed.value.code == "walletauth_unavailable"


async def test_the_async_client_answers_the_same(walletauth, wallet):
    url, http, _runtime = walletauth
    auth = signed_in(http, wallet)
    async with AsyncClient(url, MUSIC_KEY) as client:
        before = await client.allowed(wallet.address, "quality_marketing")
        set_consent(http, auth, "quality_marketing", True)
        after = await client.allowed(wallet.address, "quality_marketing")
        record_id = await client.put_record(wallet.address, "contact_email",
                                            "service_provision", {"email": "a@example.org"})
        records = await client.records(wallet.address, "service_provision",
                                       category="contact_email")
        with pytest.raises(ApiError) as refused:
            await client.records(wallet.address, "partner_guidance")

    assert before.reason == "consent_required" and after.allowed
    assert [r.id for r in records] == [record_id]
    assert refused.value.code == "purpose_not_granted_to_service"
