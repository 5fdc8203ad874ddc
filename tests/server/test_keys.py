"""Signing keys: generated once, private on disk, rotated with the old key published
until every token it signed has expired; an ES256 ring and an RS256 one, each in its own
file."""

import json
import stat
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import KeySet

from walletauth.server.config.keys import (
    ES256_KEYS,
    KEYRING_FILE,
    RS256_KEYRING_FILE,
    RS256_KEYS,
    KeyRing,
    SigningKey,
    open_keyring,
    published_jwks,
)
from walletauth.server.config.settings import Settings
from walletauth.server.runtime import open_id_token_keyring
from walletauth.server.web.schemas import JwkSet

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TTL = timedelta(minutes=15)


def test_first_start_creates_one_private_key_file(tmp_path):
    ring = KeyRing.load_or_create(tmp_path, token_ttl=TTL, now=T0)
    path = tmp_path / KEYRING_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [key.kid for key in ring.all_keys()] == [ring.signing_key().kid]


def test_a_second_start_reuses_the_same_key(tmp_path):
    first = KeyRing.load_or_create(tmp_path, token_ttl=TTL, now=T0).signing_key()
    again = KeyRing.load_or_create(tmp_path, token_ttl=TTL, now=T0).signing_key()
    assert again.kid == first.kid


def test_rotation_signs_with_the_new_key_and_keeps_the_old_one_published(tmp_path):
    ring = KeyRing.load_or_create(tmp_path, token_ttl=TTL, now=T0)
    old = ring.signing_key()
    new = ring.rotate(T0 + timedelta(hours=1))
    assert ring.signing_key().kid == new.kid != old.kid
    published = [key["kid"] for key in ring.jwks(T0 + timedelta(hours=1, minutes=14))["keys"]]
    assert published == [new.kid, old.kid]
    later = [key["kid"] for key in ring.jwks(T0 + timedelta(hours=1, minutes=15))["keys"]]
    assert later == [new.kid]


def test_a_rotation_drops_keys_whose_tokens_have_all_expired(tmp_path):
    ring = KeyRing.load_or_create(tmp_path, token_ttl=TTL, now=T0)
    first = ring.signing_key()
    ring.rotate(T0 + timedelta(hours=1))
    ring.rotate(T0 + timedelta(hours=2))
    stored = json.loads((tmp_path / KEYRING_FILE).read_text())["keys"]
    assert first.kid not in {record["kid"] for record in stored}
    assert len(stored) == 2


def test_another_process_rotating_is_noticed(tmp_path):
    serving = KeyRing.load_or_create(tmp_path, token_ttl=TTL, now=T0)
    old_kid = serving.signing_key().kid
    new_key = KeyRing.load_or_create(tmp_path, token_ttl=TTL, now=T0).rotate(T0)
    # A token signed by the new key names a kid the serving ring has not loaded yet.
    assert serving.find(new_key.kid) is not None
    assert serving.find(old_kid) is not None


def test_jwks_entries_are_p256_es256_public_keys_only(tmp_path):
    ring = KeyRing.load_or_create(tmp_path, token_ttl=TTL, now=T0)
    (entry,) = ring.jwks(T0)["keys"]
    assert entry.keys() == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    kind = (entry["kty"], entry["crv"], entry["alg"], entry["use"])
    assert kind == ("EC", "P-256", "ES256", "sig")


# --- the RS256 ring ----------------------------------------------------------------------


@pytest.fixture(params=[ES256_KEYS, RS256_KEYS], ids=["ES256", "RS256"])
def kind(request):
    return request.param


def test_each_kind_of_key_rotates_by_the_same_rules(tmp_path, kind):
    ring = open_keyring(tmp_path, kind, token_ttl=TTL, now=T0)
    old = ring.signing_key()
    new = ring.rotate(T0 + timedelta(hours=1))
    ring.rotate(T0 + timedelta(hours=2))

    assert stat.S_IMODE((tmp_path / kind.file).stat().st_mode) == 0o600
    stored = {record["kid"] for record in json.loads((tmp_path / kind.file).read_text())["keys"]}
    assert old.kid not in stored and new.kid in stored
    assert [key["alg"] for key in ring.jwks(T0 + timedelta(hours=2))["keys"]] == [
        kind.algorithm
    ] * 2


def test_the_rs256_ring_is_a_file_of_its_own_and_leaves_the_es256_one_as_it_was(tmp_path):
    es256 = KeyRing.load_or_create(tmp_path, token_ttl=TTL, now=T0)
    before = (tmp_path / KEYRING_FILE).read_bytes()
    rs256 = open_keyring(tmp_path, RS256_KEYS, token_ttl=TTL, now=T0)

    assert (tmp_path / KEYRING_FILE).read_bytes() == before
    assert isinstance(rs256.signing_key().private_key, rsa.RSAPrivateKey)
    assert rs256.signing_key().private_key.key_size == 2048
    assert isinstance(es256.signing_key().private_key, ec.EllipticCurvePrivateKey)
    again = open_keyring(tmp_path, RS256_KEYS, token_ttl=TTL, now=T0)
    assert again.signing_key().kid == rs256.signing_key().kid


def test_one_jwks_carries_both_kinds_with_their_thumbprints_as_kids(tmp_path):
    es256 = KeyRing.load_or_create(tmp_path, token_ttl=TTL, now=T0)
    rs256 = open_keyring(tmp_path, RS256_KEYS, token_ttl=TTL, now=T0)

    document = published_jwks([es256, rs256], T0)

    ec_entry, rsa_entry = document["keys"]
    assert rsa_entry.keys() == {"kty", "n", "e", "kid", "use", "alg"}
    assert (rsa_entry["kty"], rsa_entry["alg"], rsa_entry["use"], rsa_entry["e"]) == (
        "RSA",
        "RS256",
        "sig",
        "AQAB",
    )
    imported = KeySet.import_key_set(document)  # RFC 7638 thumbprints, by joserfc
    assert [key.thumbprint() for key in imported.keys] == [ec_entry["kid"], rsa_entry["kid"]]
    assert ec_entry["kid"] != rsa_entry["kid"]
    assert JwkSet.model_validate(document).model_dump() == document  # the route's schema


def test_a_key_of_the_other_kind_in_a_ring_file_is_refused_by_name(tmp_path):
    rsa_key = rsa.generate_private_key(65537, 2048)
    record = SigningKey(kid="rsa-in-ec", private_key=rsa_key, created_at=T0).to_record()
    (tmp_path / KEYRING_FILE).write_text(json.dumps({"keys": [record]}), encoding="utf-8")

    with pytest.raises(ValueError, match=r"'rsa-in-ec' in signing-keys\.json is not an ES256"):
        KeyRing.load_or_create(tmp_path, token_ttl=TTL, now=T0)


def test_an_rsa_key_shorter_than_2048_bits_is_refused(tmp_path):
    short = rsa.generate_private_key(65537, 1024)
    record = SigningKey(kid="short", private_key=short, created_at=T0).to_record()
    (tmp_path / RS256_KEYRING_FILE).write_text(json.dumps({"keys": [record]}), encoding="utf-8")

    with pytest.raises(ValueError, match="1024 bits; RS256 needs 2048"):
        open_keyring(tmp_path, RS256_KEYS, token_ttl=TTL, now=T0)


def test_without_oidc_clients_no_rsa_key_is_made(tmp_path):
    # An RSA key costs some 60 ms to make: only a service with an OpenID Provider pays it.
    assert open_id_token_keyring(Settings(data_dir=tmp_path)) is None
    assert not (tmp_path / RS256_KEYRING_FILE).exists()
    clients = {
        "wiki": {"name": "Wiki", "public": True, "redirect_uris": ["https://wiki.example/cb"]}
    }
    ring = open_id_token_keyring(Settings(data_dir=tmp_path, oidc_clients=json.dumps(clients)))
    assert ring is not None and ring.algorithm == "RS256"
    assert (tmp_path / RS256_KEYRING_FILE).exists()


def test_registration_on_without_clients_makes_the_rsa_key_too(tmp_path):
    # The provider is served then (routes.install), and its ID tokens default to RS256.
    settings = Settings(data_dir=tmp_path, oidc_registration="open")
    assert settings.serves_openid_provider and not settings.oidc_clients
    ring = open_id_token_keyring(settings)
    assert ring is not None and (tmp_path / RS256_KEYRING_FILE).exists()
