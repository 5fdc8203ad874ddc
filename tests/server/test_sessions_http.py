"""Access tokens and sessions over HTTP: JWKS, rotation, refresh, logout."""

import jwt
from jwt import PyJWKSet

from tests.server.conftest import sign_in


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def verify_with_jwks(client, token):
    keys = PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(key for key in keys.keys if key.key_id == kid)
    return jwt.decode(token, key.key, algorithms=["ES256"], audience="http://localhost:8000")


def test_the_jwks_verifies_the_access_token(client, wallet):
    token = sign_in(client, wallet).json()["access_token"]
    claims = verify_with_jwks(client, token)
    assert claims["sub"] == wallet.address
    assert claims["iss"] == "http://localhost:8000"  # the loopback domain speaks http
    assert claims.keys() == {"iss", "aud", "sub", "chain_id", "sid", "iat", "exp", "jti"}


def test_after_a_rotation_old_tokens_verify_and_new_ones_carry_the_new_kid(client, wallet, runtime):
    old_token = sign_in(client, wallet).json()["access_token"]
    new_key = runtime.keyring.rotate(runtime.clock())
    assert verify_with_jwks(client, old_token)["sub"] == wallet.address
    assert client.get("/auth/session", headers=bearer(old_token)).status_code == 200
    new_token = client.post("/auth/refresh").json()["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid
    assert verify_with_jwks(client, new_token)["sub"] == wallet.address


def test_refresh_with_the_cookie_gives_a_new_access_token_of_a_new_session(client, wallet):
    first = sign_in(client, wallet).json()
    refreshed = client.post("/auth/refresh")
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert (body["address"], body["chain_id"]) == (wallet.address, 1)
    assert body["access_token"] != first["access_token"]
    claims = [
        jwt.decode(t, options={"verify_signature": False})
        for t in (first["access_token"], body["access_token"])
    ]
    # The cookie rotated (tests/server/test_refresh_rotation_http.py): a new session.
    assert claims[0]["sid"] != claims[1]["sid"]


def test_the_session_cookie_alone_says_who_is_signed_in(client, wallet):
    sign_in(client, wallet)
    assert client.get("/auth/session").json() == {"address": wallet.address, "chain_id": 1}


def test_the_cookie_is_not_the_session_id_in_the_token(client, wallet):
    token = sign_in(client, wallet).json()["access_token"]
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    cookie = client.cookies["walletauth_session"]
    assert sid not in cookie
    # Knowing a token's sid (any service that sees the token does) is no refresh credential.
    client.cookies.set("walletauth_session", sid)
    assert client.post("/auth/refresh").status_code == 401


def test_logout_ends_the_session_and_its_access_tokens(client, wallet):
    token = sign_in(client, wallet).json()["access_token"]
    cookie = client.cookies["walletauth_session"]
    logout = client.post("/auth/logout")
    assert logout.status_code == 204
    assert 'walletauth_session=""' in logout.headers["set-cookie"]
    after = client.get("/auth/session", headers=bearer(token))
    assert after.status_code == 401
    assert after.json()["code"] == "session_revoked"
    client.cookies.set("walletauth_session", cookie)
    assert client.post("/auth/refresh").json()["code"] == "session_revoked"


def test_logout_by_bearer_token_alone(client, wallet):
    token = sign_in(client, wallet).json()["access_token"]
    client.cookies.clear()
    assert client.post("/auth/logout", headers=bearer(token)).status_code == 204
    assert client.get("/auth/session", headers=bearer(token)).status_code == 401


def test_without_credentials_nobody_is_signed_in(client):
    response = client.get("/auth/session")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert client.post("/auth/refresh").json()["code"] == "not_authenticated"
    assert client.post("/auth/logout").json()["code"] == "not_authenticated"


def test_forged_tokens_and_cookies_are_refused(client, wallet):
    token = sign_in(client, wallet).json()["access_token"]
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert client.get("/auth/session", headers=bearer(tampered)).json()["code"] == "invalid_token"
    cookie = client.cookies["walletauth_session"]
    client.cookies.set("walletauth_session", cookie[:-3] + "AAA")
    assert client.post("/auth/refresh").json()["code"] == "session_revoked"


def test_an_expired_access_token_is_refused(client, wallet, clock):
    from datetime import timedelta

    token = sign_in(client, wallet).json()["access_token"]
    clock.advance(timedelta(minutes=17))
    response = client.get("/auth/session", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert client.post("/auth/refresh").status_code == 200


def test_with_a_token_and_another_sessions_cookie_logout_ends_the_tokens_session(client, wallet):
    token_a = sign_in(client, wallet).json()["access_token"]
    token_b = sign_in(client, wallet).json()["access_token"]
    cookie_b = client.cookies["walletauth_session"]

    logout = client.post("/auth/logout", headers=bearer(token_a))

    assert logout.status_code == 204
    assert "set-cookie" not in logout.headers  # session B's cookie is kept, B still lives
    assert client.get("/auth/session", headers=bearer(token_a)).json()["code"] == "session_revoked"
    assert client.get("/auth/session", headers=bearer(token_b)).status_code == 200
    assert client.cookies["walletauth_session"] == cookie_b
    assert client.post("/auth/refresh").status_code == 200


def test_logout_with_the_token_of_the_cookies_session_clears_the_cookie(client, wallet):
    token = sign_in(client, wallet).json()["access_token"]

    logout = client.post("/auth/logout", headers=bearer(token))

    assert 'walletauth_session=""' in logout.headers["set-cookie"]
    assert client.post("/auth/refresh").json()["code"] == "not_authenticated"


def test_session_and_logout_follow_one_precedence_the_token_over_the_cookie(client, wallet):
    token_a = sign_in(client, wallet).json()["access_token"]
    sign_in(client, wallet)  # the client now holds session B's cookie
    tampered = token_a[:-4] + "AAAA"

    # An invalid token is not rescued by a good cookie, on either route.
    assert client.get("/auth/session", headers=bearer(tampered)).json()["code"] == "invalid_token"
    assert client.post("/auth/logout", headers=bearer(tampered)).json()["code"] == "invalid_token"
    assert client.post("/auth/refresh").status_code == 200


def test_the_openapi_schema_states_the_credential_precedence(client):
    schema = client.get("/openapi.json").json()
    bearer_scheme = schema["components"]["securitySchemes"]["HTTPBearer"]
    assert "Bearer access token decides" in bearer_scheme["description"]
    assert "token's session ends" in schema["paths"]["/auth/logout"]["post"]["description"]
