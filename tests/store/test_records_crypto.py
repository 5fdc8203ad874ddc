"""Record sealing and field hashing: what is built once gives what was built per call.

``seal_data`` serialises with one shared JSON encoder and ``minimised`` derives the
field-hash key once per secrets version; these tests pin both to their definitions
(``json.dumps`` with the same options, the HMAC of the current version's key), also
across a rotation of the secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletauth.policy.loader import load_policy
from walletauth.store import Secrets, StoreError
from walletauth.store.crypto import derived_key, new_subject_key, unseal
from walletauth.store.records import minimised, open_data, read_json, seal_data

ABC = load_policy("abcrecords")
KEY = new_subject_key()
ASSOCIATED = b"walletauth record contact_email service_provision"

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(data=st.dictionaries(st.text(), _JSON_VALUES, max_size=6))
def test_sealed_data_is_the_compact_sorted_json_of_the_data(data):
    sealed = seal_data(KEY, "contact_email", "service_provision", data)

    plain = unseal(KEY, sealed, ASSOCIATED)
    expected = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    assert plain == expected.encode("utf-8")
    assert open_data(KEY, "contact_email", "service_provision", sealed) == json.loads(expected)


@given(data=st.dictionaries(st.text(), _JSON_VALUES, max_size=6))
def test_the_disclosures_json_reader_reads_sealed_data_as_json_loads(data):
    """read_json (the disclosure's, records.open_sealed) on what a seal holds."""
    plain = unseal(KEY, seal_data(KEY, "contact_email", "service_provision", data), ASSOCIATED)
    assert read_json(plain) == json.loads(plain) == data


@pytest.mark.parametrize("data", [
    b'{"a":1}', b' {"a":1}', b'{"a":1}\n', b"[1, 2]", b'"x"', b"1", b"-0.0", b"NaN",
    b"Infinity", b'{"a":1}x', b'{"a":1} {"b":2}', b"", b" ", b"{", b'{"a":}', b"nul",
    b"\xef\xbb\xbf{}", '{"\u00e9":1}'.encode("utf-16"), '"\u00e9"'.encode("utf-32-le"),
    "1".encode("utf-16-be"), b'"\xed\xa0\x80"', b"\xff",
])
def test_the_disclosures_json_reader_reads_and_refuses_any_bytes_as_json_loads(data):
    try:
        expected: object = json.loads(data)
    except ValueError as error:
        with pytest.raises(type(error)) as refused:
            read_json(data)
        assert str(refused.value) == str(error)
    else:
        read = read_json(data)
        assert repr(read) == repr(expected) and type(read) is type(expected)


@pytest.mark.parametrize(
    "data",
    [
        {"email": math.nan},
        {"email": math.inf},
        {"email": b"a@example.com"},
        {"email": {"a", "b"}},
        {"email": object()},
        {"email": {"nested": 1, 2: "mixed key types cannot be sorted"}},
    ],
)
def test_data_that_is_not_json_is_refused_with_a_stable_code(data):
    with pytest.raises(StoreError) as refused:
        seal_data(KEY, "contact_email", "service_provision", data)
    assert refused.value.code == "invalid_field_value"


def test_two_seals_of_the_same_data_differ_and_both_open():
    data = {"email": "alice@example.com"}
    first = seal_data(KEY, "contact_email", "service_provision", data)
    second = seal_data(KEY, "contact_email", "service_provision", data)

    assert first != second  # a fresh nonce each time
    for sealed in (first, second):
        assert open_data(KEY, "contact_email", "service_provision", sealed) == data


def test_sealed_data_opens_only_for_its_category_and_purpose():
    sealed = seal_data(KEY, "contact_email", "service_provision", {"email": "a@example.com"})
    with pytest.raises(StoreError) as refused:
        open_data(KEY, "contact_email", "quality_marketing", sealed)
    assert refused.value.code == "subject_key_missing"


def _field_hash(secrets: Secrets, value: str) -> str:
    """The definition: HMAC-SHA256 of the value under the current version's field-hash key."""
    hash_key = derived_key(secrets.current.subject_hmac_key, b"walletauth field hash")
    return hmac.new(hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def test_hashed_fields_use_the_current_secrets_version_also_after_a_rotation(tmp_path: Path):
    secrets = Secrets.load_or_create(tmp_path / "secrets")
    record = {"cookie_id": "c-123", "at": "2026-03-01T12:00:00Z"}

    before = minimised(ABC, secrets, "cookie_id", record)
    assert before == {"cookie_id": _field_hash(secrets, "c-123"), "at": record["at"]}

    rotated = secrets.rotate()
    after = minimised(ABC, rotated, "cookie_id", record)
    assert after["cookie_id"] == _field_hash(rotated, "c-123")
    assert after["cookie_id"] != before["cookie_id"]

    # Still the old version's key for a caller that holds the old secrets.
    assert minimised(ABC, secrets, "cookie_id", record) == before


def test_stores_with_different_secrets_in_one_process_hash_with_their_own(tmp_path: Path):
    first = Secrets.load_or_create(tmp_path / "first")
    second = Secrets.load_or_create(tmp_path / "second")
    record = {"cookie_id": "c-123"}

    for _ in range(2):  # alternating, so that a cached key is asked for by the other
        assert minimised(ABC, first, "cookie_id", record)["cookie_id"] == _field_hash(
            first, "c-123"
        )
        assert minimised(ABC, second, "cookie_id", record)["cookie_id"] == _field_hash(
            second, "c-123"
        )
