"""Signing keys: generated once, private on disk, rotated with the old key published
until every token it signed has expired."""

import json
import stat
from datetime import UTC, datetime, timedelta

from walletauth.server.config.keys import KEYRING_FILE, KeyRing

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
