"""SessionVerifier against a real JWKS endpoint on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.sdk.conftest import (
    ADDRESS,
    AUDIENCE,
    ISSUER,
    START,
    Clock,
    JwksServer,
    SigningKey,
    refused,
)
from walletauth.sdk import SessionVerifier, WalletSession, jwks_url_for


@pytest.fixture
def verifier(jwks_server: JwksServer, clock: Clock) -> Iterator[SessionVerifier]:
    with SessionVerifier(
        jwks_server.url,
        issuer=ISSUER,
        audience=AUDIENCE,
        cache_ttl=300,
        refetch_cooldown=30,
        stale_if_error=300,
        clock=clock,
    ) as verifier:
        yield verifier


def _unsigned(header: dict, claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}"


# --- what a good token yields ---


def test_a_valid_token_yields_the_wallet_session(verifier, signing_key):
    token = signing_key.issue(sid="ses_1", jti="tok_1", chain_id=137)

    session = verifier.verify(token)

    assert session == WalletSession(
        address=ADDRESS,
        chain_id=137,
        session_id="ses_1",
        expires_at=datetime.fromtimestamp(START + 900, UTC),
        token_id="tok_1",
    )


def test_the_session_is_frozen(verifier, signing_key):
    session = verifier.verify(signing_key.issue())
    with pytest.raises(AttributeError):
        session.address = "0x0000000000000000000000000000000000000000"  # type: ignore[misc]


def test_keys_are_found_at_the_issuers_well_known_url_by_default():
    with SessionVerifier(issuer="https://login.example/", audience="music") as verifier:
        assert verifier.jwks_url == "https://login.example/.well-known/jwks.json"
    assert jwks_url_for("http://localhost:8000") == "http://localhost:8000/.well-known/jwks.json"


def test_an_audience_list_naming_this_service_is_accepted(verifier, signing_key):
    assert verifier.verify(signing_key.issue(aud=["video", AUDIENCE])).address == ADDRESS


# --- times ---


def test_an_expired_token_is_refused(verifier, signing_key):
    token = signing_key.issue(exp=int(START) - 60)
    with refused("token_expired"):
        verifier.verify(token)


def test_expiry_tolerates_the_leeway_and_no_more(verifier, signing_key):
    assert verifier.verify(signing_key.issue(exp=int(START) - 9)).address == ADDRESS
    with refused("token_expired"):
        verifier.verify(signing_key.issue(exp=int(START) - 10))


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_token_dated_in_the_future_is_refused(verifier, signing_key, claim):
    with refused("token_not_yet_valid"):
        verifier.verify(signing_key.issue(**{claim: int(START) + 120}))


def test_a_token_verified_later_expires_on_the_verifiers_clock(verifier, signing_key, clock):
    token = signing_key.issue()
    verifier.verify(token)
    clock.advance(901 + 10)
    with refused("token_expired"):
        verifier.verify(token)


# --- issuer and audience ---


def test_a_token_for_another_service_is_refused(verifier, signing_key):
    with refused("token_audience_mismatch"):
        verifier.verify(signing_key.issue(aud="payments"))


def test_a_token_from_another_issuer_is_refused(verifier, signing_key):
    with refused("token_issuer_mismatch"):
        verifier.verify(signing_key.issue(iss="http://evil.example"))


# --- algorithms and keys ---


def test_an_unsigned_alg_none_token_is_refused_without_fetching_keys(
    verifier, signing_key, jwks_server
):
    token = _unsigned({"alg": "none", "kid": signing_key.kid}, signing_key.claims(START)) + "."
    with refused("token_invalid"):
        verifier.verify(token)
    assert jwks_server.requests == 0


@pytest.mark.parametrize("secret_form", ["pem", "jwk"])
def test_an_hs256_token_keyed_with_the_public_key_is_refused(
    verifier, signing_key, jwks_server, secret_form
):
    public = signing_key.private.public_key()
    secret = (
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if secret_form == "pem"
        else json.dumps(signing_key.jwk()).encode()
    )
    signing_input = _unsigned({"alg": "HS256", "kid": signing_key.kid}, signing_key.claims(START))
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    with refused("token_invalid"):
        verifier.verify(token)
    assert jwks_server.requests == 0


@pytest.mark.parametrize("algorithm", ["ES384", "RS256", "EdDSA"])
def test_other_asymmetric_algorithms_are_refused(verifier, signing_key, algorithm):
    token = _unsigned({"alg": algorithm, "kid": signing_key.kid}, signing_key.claims(START))
    with refused("token_invalid"):
        verifier.verify(token + ".c2ln")


def test_a_token_signed_by_an_unpublished_key_under_a_published_kid_is_refused(
    verifier, signing_key
):
    impostor = SigningKey(kid=signing_key.kid)
    with refused("token_invalid"):
        verifier.verify(impostor.issue())


def test_a_token_with_a_tampered_payload_is_refused(verifier, signing_key):
    header, _, signature = signing_key.issue().split(".")
    forged = _unsigned({}, signing_key.claims(START, sub=ADDRESS.lower())).split(".")[1]
    with refused("token_invalid"):
        verifier.verify(f"{header}.{forged}.{signature}")


def test_a_token_naming_no_key_is_refused(verifier, signing_key):
    token = jwt.encode(signing_key.claims(START), signing_key.private, algorithm="ES256")
    with refused("token_invalid"):
        verifier.verify(token)


# --- what a token must say ---


@pytest.mark.parametrize("claim", ["sub", "sid", "jti", "chain_id", "exp", "iat", "aud", "iss"])
def test_a_token_missing_a_required_claim_is_refused(verifier, signing_key, claim):
    with refused("token_invalid"):
        verifier.verify(signing_key.issue(**{claim: None}))


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": ADDRESS.lower()},  # not EIP-55
        {"sub": "alice"},
        {"chain_id": "1"},
        {"chain_id": 0},
        {"chain_id": True},
        {"sid": ""},
        {"jti": 7},
        {"exp": "tomorrow"},
        {"exp": 10**15},
    ],
    ids=repr,
)
def test_a_token_with_an_ill_typed_claim_is_refused(verifier, signing_key, claims):
    with refused("token_invalid"):
        verifier.verify(signing_key.issue(**claims))


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_is_token_missing(verifier, token):
    with refused("token_missing"):
        verifier.verify(token)


@pytest.mark.parametrize("token", ["abc", "a.b.c", "x" * 10_000, "eyJhbGciOiJFUzI1NiJ9..."])
def test_garbage_is_token_invalid(verifier, token):
    with refused("token_invalid"):
        verifier.verify(token)


# --- key rotation and the JWKS cache ---------------------------------------------------------


def test_an_unknown_kid_triggers_exactly_one_refetch_then_verifies(
    verifier, signing_key, jwks_server, clock
):
    verifier.verify(signing_key.issue())
    assert jwks_server.requests == 1
    rotated = SigningKey()
    jwks_server.publish(signing_key, rotated)
    clock.advance(5)  # rotation soon after start-up must not wait for a cooldown

    assert verifier.verify(rotated.issue(clock.now)).address == ADDRESS
    assert jwks_server.requests == 2
    verifier.verify(rotated.issue(clock.now))
    verifier.verify(signing_key.issue(clock.now))  # the old key stays published meanwhile
    assert jwks_server.requests == 2


def test_garbage_kids_cause_at_most_one_refetch_per_cooldown(
    verifier, signing_key, jwks_server, clock
):
    verifier.verify(signing_key.issue())
    for _ in range(50):
        with refused("token_invalid"):
            verifier.verify(SigningKey().issue(clock.now))
    assert jwks_server.requests == 2

    clock.advance(31)
    for _ in range(50):
        with refused("token_invalid"):
            verifier.verify(SigningKey().issue(clock.now))
    assert jwks_server.requests == 3


def test_the_key_set_is_refetched_when_its_ttl_ends(verifier, signing_key, jwks_server, clock):
    verifier.verify(signing_key.issue())
    clock.advance(299)
    verifier.verify(signing_key.issue(clock.now))
    assert jwks_server.requests == 1

    rotated = SigningKey()
    jwks_server.publish(rotated)  # the old key is withdrawn
    clock.advance(1)
    assert verifier.verify(rotated.issue(clock.now)).address == ADDRESS
    assert jwks_server.requests == 2
    with refused("token_invalid"):
        verifier.verify(signing_key.issue(clock.now))


def test_concurrent_first_requests_share_one_fetch(verifier, signing_key, jwks_server):
    tokens = [signing_key.issue() for _ in range(8)]
    sessions: list[WalletSession] = []
    threads = [
        threading.Thread(target=lambda t=t: sessions.append(verifier.verify(t))) for t in tokens
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sessions) == 8
    assert jwks_server.requests == 1


def test_unusable_published_keys_are_skipped(verifier, signing_key, jwks_server):
    other = SigningKey()
    private_entry = {**other.jwk(), "d": "AAAA", "kid": "leaked"}
    jwks_server.document = {
        "keys": [
            {"kty": "oct", "kid": "hmac", "k": base64.urlsafe_b64encode(b"k" * 32).decode()},
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            private_entry,
            "not a key",
            signing_key.jwk(),
        ]
    }
    assert verifier.verify(signing_key.issue()).address == ADDRESS
    assert verifier.refresh_keys() == 1


def test_refresh_keys_fetches_at_start_up(verifier, signing_key, jwks_server):
    assert verifier.refresh_keys() == 1
    verifier.verify(signing_key.issue())
    assert jwks_server.requests == 1


# --- when the issuer is down ---


def test_a_jwks_endpoint_that_is_down_is_jwks_unavailable(verifier, signing_key, jwks_server):
    jwks_server.stop()
    with refused("jwks_unavailable"):
        verifier.verify(signing_key.issue())


def test_cached_keys_serve_while_fresh_then_within_grace_then_stop(
    verifier, signing_key, jwks_server, clock
):
    verifier.verify(signing_key.issue())
    jwks_server.stop()

    clock.advance(299)
    assert verifier.verify(signing_key.issue(clock.now)).address == ADDRESS  # fresh
    clock.advance(250)
    assert verifier.verify(signing_key.issue(clock.now)).address == ADDRESS  # stale, in grace
    clock.advance(51)
    with refused("jwks_unavailable"):
        verifier.verify(signing_key.issue(clock.now))


def test_a_failed_fetch_is_not_retried_before_the_cooldown(
    verifier, signing_key, jwks_server, clock
):
    jwks_server.status = 503
    with refused("jwks_unavailable"):
        verifier.verify(signing_key.issue())
    with refused("jwks_unavailable"):
        verifier.verify(signing_key.issue())
    assert jwks_server.requests == 1

    jwks_server.status = 200
    clock.advance(30)
    assert verifier.verify(signing_key.issue(clock.now)).address == ADDRESS
    assert jwks_server.requests == 2


def test_an_unknown_kid_during_an_outage_is_jwks_unavailable_not_invalid(
    verifier, signing_key, jwks_server
):
    verifier.verify(signing_key.issue())
    jwks_server.stop()
    with refused("jwks_unavailable"):
        verifier.verify(SigningKey().issue())


@pytest.mark.parametrize(
    "document", ["not json at all", {"keys": "nope"}, ["a", "list"], {"no_keys": []}], ids=repr
)
def test_an_endpoint_answering_garbage_is_jwks_unavailable(
    verifier, signing_key, jwks_server, document
):
    jwks_server.document = document
    with refused("jwks_unavailable"):
        verifier.verify(signing_key.issue())


def test_garbage_from_the_endpoint_keeps_the_last_good_keys(
    verifier, signing_key, jwks_server, clock
):
    verifier.verify(signing_key.issue())
    jwks_server.document = "oops"
    clock.advance(301)
    assert verifier.verify(signing_key.issue(clock.now)).address == ADDRESS
    assert jwks_server.requests == 2


# --- revocation ---


def test_a_revoked_session_is_refused(jwks_server, signing_key, clock):
    asked: list[str] = []

    def revoked(session_id: str) -> bool:
        asked.append(session_id)
        return session_id == "ses_gone"

    with SessionVerifier(
        jwks_server.url, issuer=ISSUER, audience=AUDIENCE, revocation_check=revoked, clock=clock
    ) as verifier:
        assert verifier.verify(signing_key.issue(sid="ses_live")).session_id == "ses_live"
        with refused("token_revoked"):
            verifier.verify(signing_key.issue(sid="ses_gone"))
        with refused("token_expired"):
            verifier.verify(signing_key.issue(sid="ses_other", exp=int(START) - 60))
    assert asked == ["ses_live", "ses_gone"]  # never asked about tokens that did not verify


def test_a_failing_revocation_check_refuses_the_token(jwks_server, signing_key, clock):
    def unreachable(session_id: str) -> bool:
        raise ConnectionError("redis is down")

    with (
        SessionVerifier(
            jwks_server.url,
            issuer=ISSUER,
            audience=AUDIENCE,
            revocation_check=unreachable,
            clock=clock,
        ) as verifier,
        refused("revocation_unavailable"),
    ):
        verifier.verify(signing_key.issue())


# --- configuration ---


@pytest.mark.parametrize(
    "options",
    [
        {"leeway": -1},
        {"cache_ttl": 0},
        {"refetch_cooldown": float("nan")},
        {"audience": ""},
        {"jwks_url": "file:///etc/passwd"},
    ],
    ids=repr,
)
def test_nonsense_configuration_is_refused_at_construction(options):
    arguments = {"issuer": ISSUER, "audience": AUDIENCE, **options}
    with pytest.raises(ValueError):
        SessionVerifier(**arguments)


def test_each_token_gets_its_own_token_id(verifier, signing_key):
    first = verifier.verify(signing_key.issue(jti=secrets.token_hex(4)))
    second = verifier.verify(signing_key.issue(jti=secrets.token_hex(4)))
    assert first.token_id != second.token_id
