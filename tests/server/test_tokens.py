"""Access tokens: ES256 JWTs with the documented claims, checked against a moving clock."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from walletauth.server.errors import ServerError
from walletauth.server.keys import KeyRing
from walletauth.server.tokens import TokenIssuer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.fixture
def ring(tmp_path):
    return KeyRing.load_or_create(tmp_path, token_ttl=timedelta(minutes=15), now=T0)


def issuer_for(ring, audience="https://login.example"):
    return TokenIssuer(
        ring, issuer="https://login.example", audience=audience, leeway=timedelta(seconds=60)
    )


def test_a_token_carries_exactly_the_documented_claims(ring):
    issued = issuer_for(ring).issue(address=ADDRESS, chain_id=137, session_id="137.s", now=T0)
    public_key = ring.signing_key().public_key
    claims = jwt.decode(
        issued.token,
        public_key,
        algorithms=["ES256"],
        audience="https://login.example",
        options={"verify_exp": False},
    )
    assert claims.keys() == {"iss", "aud", "sub", "chain_id", "sid", "iat", "exp", "jti"}
    assert claims["sub"] == ADDRESS
    assert claims["chain_id"] == 137
    assert claims["sid"] == "137.s"
    assert claims["exp"] - claims["iat"] == issued.expires_in == 900
    assert jwt.get_unverified_header(issued.token)["kid"] == ring.signing_key().kid


def test_a_token_reads_back_until_it_expires(ring):
    tokens = issuer_for(ring)
    issued = tokens.issue(address=ADDRESS, chain_id=1, session_id="1.s", now=T0)
    claims = tokens.read(issued.token, now=T0 + timedelta(minutes=15, seconds=59))
    assert (claims.address, claims.chain_id, claims.session_id) == (ADDRESS, 1, "1.s")
    with pytest.raises(ServerError) as refused:
        tokens.read(issued.token, now=T0 + timedelta(minutes=16))
    assert refused.value.code == "invalid_token"


def test_tokens_signed_before_a_rotation_still_read(ring):
    tokens = issuer_for(ring)
    before = tokens.issue(address=ADDRESS, chain_id=1, session_id="1.s", now=T0)
    ring.rotate(T0)
    after = tokens.issue(address=ADDRESS, chain_id=1, session_id="1.s", now=T0)

    def kid(token):
        return jwt.get_unverified_header(token)["kid"]

    assert kid(after.token) == ring.signing_key().kid != kid(before.token)
    assert tokens.read(before.token, now=T0).address == ADDRESS


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
        jwt.encode({"sub": ADDRESS}, "s" * 32, algorithm="HS256", headers={"kid": "x"}),
    ],
)
def test_foreign_or_malformed_tokens_are_invalid(ring, token):
    with pytest.raises(ServerError) as refused:
        issuer_for(ring).read(token, now=T0)
    assert refused.value.code == "invalid_token"


def test_a_token_for_another_audience_is_invalid(ring):
    other = issuer_for(ring, audience="https://elsewhere.example")
    issued = other.issue(address=ADDRESS, chain_id=1, session_id="1.s", now=T0)
    with pytest.raises(ServerError) as refused:
        issuer_for(ring).read(issued.token, now=T0)
    assert refused.value.code == "invalid_token"


def test_an_hs256_token_forged_with_the_kid_of_a_real_key_is_invalid(ring):
    kid = ring.signing_key().kid
    forged = jwt.encode({"sub": ADDRESS}, "x" * 32, algorithm="HS256", headers={"kid": kid})
    with pytest.raises(ServerError) as refused:
        issuer_for(ring).read(forged, now=T0)
    assert refused.value.code == "invalid_token"
