"""A sign-in writes what the policy's login rule says, for any policy an operator may write:
no access log at all, access-log purposes in any order, fewer fields than the shipped
policies declare, a field declared only by a later version."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from importlib import resources

import pytest

from tests.store.conftest import ALICE, NOW, Backend
from walletauth.policy import parse_policy
from walletauth.store import Secrets, Store

LATER = NOW + timedelta(days=3)
ACCESS_LOG_RETENTION = (
    "# 30 days keep the login secure (spotting abuse); analytics needs consent.\n"
    'retention = { service_provision = "30d", quality_marketing = "1y" }'
)
ACCESS_LOG_FIELDS = 'fields = { ip = "ip_truncate", browser = "user_agent_family", at = "keep" }'
WALLET_FIELDS = 'fields = { chain_id = "keep", first_sign_in = "keep", last_sign_in = "keep" }'
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def abcrecords_with(*changes: tuple[str, str]):
    """The shipped ABCRECORDS policy with each ``(old, new)`` line replaced (each must be
    there, so the test changes what it says it changes)."""
    text = resources.files("walletauth.policy").joinpath("policies/abcrecords.toml").read_text()
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return parse_policy(text, origin="test")


@pytest.fixture
def open_store(backend: Backend, secrets: Secrets) -> Iterator:
    opened: list[Store] = []

    def open_with(policy) -> Store:
        store = Store.open(
            backend.url, policy=policy, secrets=secrets, keystore_url=backend.keystore_url
        )
        opened.append(store)
        return store

    yield open_with
    for store in opened:
        store.close()


def kept(store: Store, when=NOW) -> dict[tuple[str, str], dict]:
    return {(r.category, r.purpose): dict(r.data) for r in store.subject_records(ALICE, now=when)}


def test_a_policy_without_an_access_log_has_a_sign_in_write_the_wallet_record_alone(
    open_store,
):
    policy = abcrecords_with((', access_log_category = "access_log" }', " }"))
    store = open_store(policy)

    store.record_login(ALICE, 1, now=NOW, ip="203.0.113.9", user_agent=CHROME)

    assert list(kept(store)) == [("wallet_address", "service_provision")]


def test_each_access_log_purpose_is_decided_alone_whatever_its_place_in_the_policy(
    open_store,
):
    # quality_marketing first: without the subject's consent it is refused, and the
    # service_provision log after it is still written.
    policy = abcrecords_with(
        (
            ACCESS_LOG_RETENTION,
            'retention = { quality_marketing = "1y", service_provision = "30d" }\n',
        )
    )
    store = open_store(policy)

    store.record_login(ALICE, 1, now=NOW, ip="203.0.113.9", user_agent=CHROME)

    assert set(kept(store)) == {
        ("wallet_address", "service_provision"),
        ("access_log", "service_provision"),
    }


def test_a_field_the_category_does_not_declare_is_not_stored(open_store):
    policy = abcrecords_with((ACCESS_LOG_FIELDS, 'fields = { ip = "ip_truncate", at = "keep" }'))
    store = open_store(policy)

    store.record_login(ALICE, 1, now=NOW, ip="203.0.113.9", user_agent=CHROME)

    assert kept(store)[("access_log", "service_provision")] == {
        "ip": "203.0.113.0/24",
        "at": NOW.isoformat(),
    }


def test_a_first_sign_in_declared_only_by_a_later_policy_starts_at_the_sign_in_it_is_kept(
    open_store,
):
    without = abcrecords_with(
        (WALLET_FIELDS, 'fields = { chain_id = "keep", last_sign_in = "keep" }')
    )
    open_store(without).record_login(ALICE, 1, now=NOW)

    store = open_store(abcrecords_with())
    store.record_login(ALICE, 1, now=LATER)

    assert kept(store, LATER)[("wallet_address", "service_provision")] == {
        "chain_id": 1,
        "first_sign_in": LATER.isoformat(),
        "last_sign_in": LATER.isoformat(),
    }
