"""Signing in over real HTTP: nonce, verify, and every way a verify can fail."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.server.conftest import make_settings, serving, sign_in


def problem_code(response):
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= {"type", "title", "status", "detail", "code"}
    assert body["status"] == response.status_code
    return body["code"]


def test_a_full_login_returns_a_bearer_token_and_sets_the_session_cookie(client, wallet):
    nonce = client.get("/auth/nonce")
    assert nonce.status_code == 200
    assert nonce.headers["cache-control"] == "no-store"
    response = client.post("/auth/verify", json=wallet.signed_body(nonce.json()["nonce"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["address"] == wallet.address
    assert body["chain_id"] == 1
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("walletauth_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    session = client.get(
        "/auth/session", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert session.json() == {"address": wallet.address, "chain_id": 1}


def test_a_login_stores_the_wallet_record_and_nothing_for_a_failed_one(client, wallet, runtime):
    other = type(wallet)()
    nonce = client.get("/auth/nonce").json()["nonce"]
    failed = client.post(
        "/auth/verify",
        json={"message": other.message(nonce), "signature": wallet.sign(other.message(nonce))},
    )
    assert failed.status_code == 401
    assert sign_in(client, wallet).status_code == 200
    purpose = runtime.policy.login.purpose
    now = datetime.now(UTC)
    assert [r.category for r in runtime.store.records(wallet.address, purpose, now=now)] != []
    assert runtime.store.records(other.address, purpose, now=now) == []


def test_a_replayed_message_gets_nonce_unknown(client, wallet):
    nonce = client.get("/auth/nonce").json()["nonce"]
    body = wallet.signed_body(nonce)
    assert client.post("/auth/verify", json=body).status_code == 200
    replay = client.post("/auth/verify", json=body)
    assert replay.status_code == 401
    assert problem_code(replay) == "nonce_unknown"


def test_a_nonce_never_issued_gets_nonce_unknown(client, wallet):
    response = client.post("/auth/verify", json=wallet.signed_body("NeverIssued12345"))
    assert response.status_code == 401
    assert problem_code(response) == "nonce_unknown"


def test_a_nonce_past_its_lifetime_gets_nonce_unknown(client, wallet, clock):
    nonce = client.get("/auth/nonce").json()["nonce"]
    clock.advance(timedelta(minutes=5, seconds=1))
    response = client.post(
        "/auth/verify", json=wallet.signed_body(nonce, issued_at=clock.now - timedelta(seconds=1))
    )
    assert response.status_code == 401
    assert problem_code(response) == "nonce_unknown"


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"expiration_time": datetime.now(UTC) - timedelta(minutes=5)}, 401, "expired"),
        ({"domain": "evil.example"}, 403, "domain_mismatch"),
        ({"chain_id": 137}, 403, "chain_not_allowed"),
        ({"issued_at": datetime.now(UTC) + timedelta(hours=1)}, 401, "issued_in_future"),
    ],
    ids=["expired", "wrong-domain", "wrong-chain", "issued-in-future"],
)
def test_a_message_we_do_not_accept_gets_its_code(client, wallet, fields, status, code):
    nonce = client.get("/auth/nonce").json()["nonce"]
    response = client.post("/auth/verify", json=wallet.signed_body(nonce, **fields))
    assert response.status_code == status
    assert problem_code(response) == code


def test_a_refused_message_leaves_its_nonce_usable(client, wallet):
    nonce = client.get("/auth/nonce").json()["nonce"]
    client.post("/auth/verify", json=wallet.signed_body(nonce, chain_id=137))
    assert client.post("/auth/verify", json=wallet.signed_body(nonce)).status_code == 200


@pytest.mark.parametrize(
    "resources",
    [
        ["urn:walletauth:request:erase"],
        ["https://app.example/terms", "urn:walletauth:request:export"],
        ["urn:walletauth:request:no-such-request"],
    ],
    ids=["erase-proof", "export-proof-among-others", "unknown-request"],
)
def test_a_rights_proof_does_not_sign_in(client, wallet, runtime, resources):
    nonce = client.get("/auth/nonce").json()["nonce"]
    proof = client.post("/auth/verify", json=wallet.signed_body(nonce, resources=resources))
    assert proof.status_code == 403
    assert problem_code(proof) == "wrong_request"
    assert "set-cookie" not in proof.headers
    purpose = runtime.policy.login.purpose
    assert runtime.store.records(wallet.address, purpose, now=datetime.now(UTC)) == []
    # Other resources are no request: such a message signs in, with the refused one's nonce.
    other = wallet.signed_body(nonce, resources=["https://app.example/terms"])
    assert client.post("/auth/verify", json=other).status_code == 200


def test_a_tampered_message_gets_invalid_signature(client, wallet):
    nonce = client.get("/auth/nonce").json()["nonce"]
    body = wallet.signed_body(nonce)
    body["message"] = body["message"].replace("Sign in to ABCRECORDS", "Sign in to ABCRECORDZ")
    response = client.post("/auth/verify", json=body)
    assert response.status_code == 401
    assert problem_code(response) == "invalid_signature"


@pytest.mark.parametrize("signature", ["0x" + "00" * 65, "0x1234", "not hex", ""])
def test_a_bad_signature_gets_invalid_signature(client, wallet, signature):
    nonce = client.get("/auth/nonce").json()["nonce"]
    response = client.post(
        "/auth/verify", json={"message": wallet.message(nonce), "signature": signature}
    )
    assert response.status_code == 401
    assert problem_code(response) == "invalid_signature"


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b'{"message": "x", "signature":', 400, "malformed_json"),
        (b'{"message": "not a siwe message", "signature": "0x00"}', 400, "malformed_message"),
        (b'{"message": "x"}', 422, "invalid_request"),
        (b'{"message": 1, "signature": []}', 422, "invalid_request"),
        (b"[]", 422, "invalid_request"),
    ],
    ids=["malformed-json", "malformed-message", "missing-field", "wrong-types", "not-an-object"],
)
def test_bad_request_bodies_get_a_4xx_problem(client, content, status, code):
    response = client.post(
        "/auth/verify", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert problem_code(response) == code


def test_an_oversized_body_gets_request_too_large(client):
    response = client.post(
        "/auth/verify",
        content=b'{"message": "' + b"a" * 40_000 + b'", "signature": "0x"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert problem_code(response) == "request_too_large"


def test_an_oversized_chunked_body_gets_request_too_large(client):
    def chunks():
        yield b'{"message": "'
        for _ in range(10):
            yield b"a" * 4096
        yield b'", "signature": "0x"}'

    response = client.post(
        "/auth/verify", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert problem_code(response) == "request_too_large"


def test_unknown_routes_and_methods_are_problems_too(client):
    assert problem_code(client.get("/nope")) == "not_found"
    assert problem_code(client.delete("/auth/nonce")) == "method_not_allowed"


def test_nonces_are_rate_limited_per_ip_with_retry_after(tmp_path, wallet):
    settings = make_settings(tmp_path, rate_limits="nonce=3,verify=60,failed=10")
    with serving(settings) as (url, _app):
        import httpx

        with httpx.Client(base_url=url) as client:
            statuses = [client.get("/auth/nonce").status_code for _ in range(4)]
            limited = client.get("/auth/nonce")
    assert statuses == [200, 200, 200, 429]
    assert problem_code(limited) == "rate_limited"
    # A sliding window of 60 s: a hit fades out by the end of the next window at most.
    assert 1 <= int(limited.headers["retry-after"]) <= 120


def test_failed_verifies_are_rate_limited_per_address(tmp_path, wallet):
    settings = make_settings(tmp_path, rate_limits="nonce=100,verify=100,failed=2")
    with serving(settings) as (url, _app):
        import httpx

        with httpx.Client(base_url=url) as client:
            codes = []
            for _ in range(3):
                nonce = client.get("/auth/nonce").json()["nonce"]
                bad = {"message": wallet.message(nonce), "signature": "0x" + "11" * 65}
                codes.append(client.post("/auth/verify", json=bad).json()["code"])
    assert codes == ["invalid_signature", "invalid_signature", "rate_limited"]


def test_rate_limits_can_be_switched_off(tmp_path):
    settings = make_settings(tmp_path, rate_limits="off")
    with serving(settings) as (url, _app):
        import httpx

        with httpx.Client(base_url=url) as client:
            statuses = {client.get("/auth/nonce").status_code for _ in range(130)}
    assert statuses == {200}


def test_cors_answers_only_configured_origins_with_credentials(tmp_path):
    settings = make_settings(tmp_path, cors_origins=["https://app.example"])
    with serving(settings) as (url, _app):
        import httpx

        with httpx.Client(base_url=url) as client:
            allowed = client.get("/auth/nonce", headers={"Origin": "https://app.example"})
            other = client.get("/auth/nonce", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in other.headers


def test_the_cookie_is_secure_unless_configured_for_local_http(tmp_path, wallet, client):
    assert "Secure" not in sign_in(client, wallet).headers["set-cookie"]
    with serving(make_settings(tmp_path / "secure", insecure_http=False)) as (url, _app):
        import httpx

        with httpx.Client(base_url=url) as secure_client:
            response = sign_in(secure_client, wallet)
    assert response.status_code == 200
    assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_verify_not_sent_as_json_is_refused_and_leaves_its_nonce_usable(
    client, wallet, content_type
):
    # What a cross-site form can send without a preflight: it must not sign a browser in.
    nonce = client.get("/auth/nonce").json()["nonce"]
    body = wallet.signed_body(nonce)
    headers = {"Content-Type": content_type} if content_type else {}
    refused = client.post("/auth/verify", content=json.dumps(body), headers=headers)
    assert refused.status_code == 422
    assert problem_code(refused) == "invalid_request"
    assert "set-cookie" not in refused.headers
    assert client.post("/auth/verify", json=body).status_code == 200


def test_a_json_subtype_and_a_charset_are_json_too(client, wallet):
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        body = wallet.signed_body(client.get("/auth/nonce").json()["nonce"])
        response = client.post(
            "/auth/verify", content=json.dumps(body), headers={"Content-Type": content_type}
        )
        assert response.status_code == 200, response.text


def test_other_methods_on_the_sign_in_paths_get_405_with_allow(client):
    response = client.put("/auth/verify", json={})
    assert response.status_code == 405
    assert problem_code(response) == "method_not_allowed"
    assert response.headers["allow"] == "POST"
    assert client.post("/auth/nonce").headers["allow"] == "GET"
