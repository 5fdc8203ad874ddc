"""Access tokens: ES256 JWTs with the documented claims, checked against a moving clock."""

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from walletauth.sdk.errors import SdkError
from walletauth.sdk.jwks import parse_jwks
from walletauth.sdk.tokens import TokenRules, decode_session, signing_kid
from walletauth.server.config.keys import KEYRING_FILE, KeyRing, SigningKey
from walletauth.server.signin.tokens import TokenIssuer
from walletauth.server.web.errors import ServerError

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


@pytest.fixture(scope="module")
def shared_ring(tmp_path_factory):
    """One ring for the property tests (hypothesis runs many examples per test)."""
    directory = tmp_path_factory.mktemp("keys")
    return KeyRing.load_or_create(directory, token_ttl=timedelta(minutes=15), now=T0)


def claims_of(issued, issuer, audience):
    """The claims of ``issued`` as a dict, in the order the issuer writes them."""
    claims = issued.claims
    return {
        "iss": issuer,
        "aud": audience,
        "sub": claims.address,
        "chain_id": claims.chain_id,
        "sid": claims.session_id,
        "iat": int(claims.issued_at.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "jti": claims.token_id,
    }


def tampered(token, segment):
    """``token`` with one character of ``segment`` (0 header, 1 claims, 2 signature)
    changed so that it still decodes as base64url."""
    parts = token.split(".")
    char = parts[segment][5]
    parts[segment] = parts[segment][:5] + ("A" if char != "A" else "B") + parts[segment][6:]
    return ".".join(parts)


@given(
    issuer=st.text(min_size=1, max_size=40),
    audience=st.text(min_size=1, max_size=40),
    session_id=st.text(min_size=1, max_size=60),
    chain_id=st.integers(min_value=1, max_value=2**63),
    seconds=st.integers(min_value=0, max_value=2**33),
)
def test_tokens_are_byte_for_byte_what_pyjwt_would_sign(
    shared_ring, issuer, audience, session_id, chain_id, seconds
):
    tokens = TokenIssuer(shared_ring, issuer=issuer, audience=audience, leeway=timedelta(0))
    now = datetime.fromtimestamp(seconds, UTC)
    issued = tokens.issue(address=ADDRESS, chain_id=chain_id, session_id=session_id, now=now)
    key = shared_ring.signing_key()

    by_pyjwt = jwt.encode(
        claims_of(issued, issuer, audience),
        key.private_key,
        algorithm="ES256",
        headers={"kid": key.kid},
    )

    # ECDSA signatures are randomised: the signed bytes must agree, the signature verify.
    assert issued.token.rsplit(".", 1)[0] == by_pyjwt.rsplit(".", 1)[0]
    assert jwt.decode(
        issued.token,
        key.public_key,
        algorithms=["ES256"],
        audience=audience,
        issuer=issuer,
        options={"verify_exp": False, "verify_iat": False},
    ) == claims_of(issued, issuer, audience)


def test_the_header_names_the_algorithm_the_type_and_the_key(ring):
    issued = issuer_for(ring).issue(address=ADDRESS, chain_id=1, session_id="1.s", now=T0)
    encoded_header = issued.token.split(".")[0]

    header = json.loads(base64.urlsafe_b64decode(encoded_header + "=" * (-len(encoded_header) % 4)))

    assert header == {"alg": "ES256", "kid": ring.signing_key().kid, "typ": "JWT"}
    assert "=" not in issued.token


def test_a_token_verifies_against_the_published_jwks_with_pyjwt_and_the_sdk(ring):
    issued = issuer_for(ring).issue(address=ADDRESS, chain_id=10, session_id="10.s", now=T0)
    published = parse_jwks(ring.jwks(T0))
    key = published[signing_kid(issued.token)]

    claims = jwt.decode(
        issued.token,
        key,
        algorithms=["ES256"],
        audience="https://login.example",
        issuer="https://login.example",
        options={"verify_exp": False, "verify_iat": False},
    )
    rules = TokenRules(issuer="https://login.example", audience="https://login.example", leeway=0)
    session = decode_session(issued.token, key, rules, T0.timestamp())

    assert claims["sub"] == session.address == ADDRESS
    assert (session.chain_id, session.session_id) == (10, "10.s")
    assert session.token_id == issued.claims.token_id


@pytest.mark.parametrize("segment", [0, 1, 2], ids=["header", "claims", "signature"])
def test_a_tampered_token_is_refused_by_pyjwt_the_sdk_and_the_issuer(ring, segment):
    tokens = issuer_for(ring)
    issued = tokens.issue(address=ADDRESS, chain_id=1, session_id="1.s", now=T0)
    forged = tampered(issued.token, segment)
    key = parse_jwks(ring.jwks(T0))[ring.signing_key().kid]
    rules = TokenRules(issuer="https://login.example", audience="https://login.example", leeway=0)

    with pytest.raises(jwt.PyJWTError):
        jwt.decode(forged, key, algorithms=["ES256"], audience="https://login.example")
    with pytest.raises(SdkError) as refused_by_sdk:
        decode_session(forged, key, rules, T0.timestamp())
    with pytest.raises(ServerError) as refused_by_issuer:
        tokens.read(forged, now=T0)
    assert refused_by_sdk.value.code == "token_invalid"
    assert refused_by_issuer.value.code == "invalid_token"


def test_a_signing_key_that_is_not_p256_is_refused_rather_than_used(tmp_path):
    p384 = ec.generate_private_key(ec.SECP384R1())
    record = SigningKey(kid="p384", private_key=p384, created_at=T0).to_record()
    (tmp_path / KEYRING_FILE).write_text(json.dumps({"keys": [record]}), encoding="utf-8")
    ring = KeyRing.load_or_create(tmp_path, token_ttl=timedelta(minutes=15), now=T0)

    with pytest.raises(ValueError, match="P-256"):
        issuer_for(ring).issue(address=ADDRESS, chain_id=1, session_id="1.s", now=T0)
