"""Registered OpenID Connect clients: kept once, found by id, never overwritten."""

from __future__ import annotations

import hashlib
import threading

import pytest

from tests.store.conftest import NOW, table_counts
from walletauth.store import Store, StoreError

DIGEST = hashlib.sha256(b"a secret").hexdigest()
METADATA = {"client_name": "Team wiki", "redirect_uris": ["https://wiki.example/cb"]}


def test_a_registered_client_is_found_by_its_id(store):
    assert store.register_oidc_client("_abc", METADATA, DIGEST, now=NOW) is True

    found = store.oidc_client("_abc")

    assert found is not None
    assert (found.client_id, found.metadata, found.secret_sha256, found.issued_at) == (
        "_abc",
        METADATA,
        DIGEST,
        NOW,
    )
    assert store.oidc_client("_abd") is None


def test_a_public_client_has_no_secret(store):
    store.register_oidc_client("_pub", METADATA, None, now=NOW)

    assert store.oidc_client("_pub").secret_sha256 is None


def test_a_taken_id_is_not_overwritten(store):
    store.register_oidc_client("_abc", METADATA, DIGEST, now=NOW)

    again = store.register_oidc_client("_abc", {"client_name": "Other"}, None, now=NOW)

    assert again is False
    assert store.oidc_client("_abc").metadata == METADATA


def test_two_registrations_of_one_id_at_once_keep_exactly_one(backend, secrets, abcrecords):
    stores = [
        Store.open(
            backend.url, policy=abcrecords, secrets=secrets, keystore_url=backend.keystore_url
        )
        for _ in range(2)
    ]
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def register(store: Store, name: str) -> None:
        barrier.wait()
        results.append(store.register_oidc_client("_same", {"client_name": name}, None, now=NOW))

    try:
        threads = [
            threading.Thread(target=register, args=(s, f"n{i}")) for i, s in enumerate(stores)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False, True]
        assert stores[1].oidc_client("_same") is not None
    finally:
        for store in stores:
            store.close()


@pytest.mark.parametrize(
    ("client_id", "metadata", "digest"),
    [
        ("", METADATA, DIGEST),
        ("x" * 65, METADATA, DIGEST),
        ("_abc", METADATA, "not-hex"),
        ("_abc", METADATA, DIGEST.upper()),
        ("_abc", {"x": float("nan")}, DIGEST),
        ("_abc", {"x": object()}, DIGEST),
        ("_abc", {"x": "y" * 20000}, DIGEST),
    ],
)
def test_a_bad_client_is_refused_and_nothing_is_written(store, client_id, metadata, digest):
    before = table_counts(store)

    with pytest.raises(StoreError) as refused:
        store.register_oidc_client(client_id, metadata, digest, now=NOW)

    assert refused.value.code == "invalid_argument"
    assert table_counts(store) == before


@pytest.mark.parametrize("client_id", ["", "x" * 65, None, 7])
def test_an_id_no_client_can_have_finds_nothing(store, client_id):
    assert store.oidc_client(client_id) is None
