"""A guardian's withdrawal at POST /services/v1/guardian-consents tells the registered
services, as a user's own withdrawal does: one ``consent.withdrawn`` naming the purposes it
took out of use, committed with the withdrawal and delivered by the server's own worker."""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import make_settings, serving
from tests.server.test_age_http import BACK_OFFICE_KEY, bearer, guardian_consent
from tests.server.test_delivery_worker import FAST, SECRET, Receiver, wait_for
from walletauth.server.config.services import hash_api_key, new_api_key
from walletauth.store import audit as audit_module
from walletauth.store.errors import StoreError
from walletauth.store.outbox import pending_count
from walletauth.store.subject_state import suspend

CATALOGUE_KEY = new_api_key()
# METALIVE's optional purposes, in the policy's order.
ANALYTICS, ADVERTISING, ACCESS_ANALYSIS = "analytics_marketing", "advertising", "access_analysis"


@pytest.fixture
def receiver():
    made = Receiver()
    made.up()
    yield made
    made.down()


@pytest.fixture
def metalive(tmp_path, clock, monkeypatch, receiver):
    """METALIVE with a back office and a catalogue service whose webhook is ``receiver``."""
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    services = {
        "backoffice": {"api_key_sha256": hash_api_key(BACK_OFFICE_KEY),
                       "records_guardian_consent": True},
        "catalogue": {"api_key_sha256": hash_api_key(CATALOGUE_KEY),
                      "purposes": ["live_streaming"], "webhook_url": receiver.url,
                      "webhook_secrets": [SECRET]},
    }
    settings = make_settings(tmp_path, policy="metalive", services=services)
    with serving(settings, clock) as (url, app), httpx.Client(base_url=url, timeout=30) as http:
        yield http, app.state.runtime


def confirm_age(client, headers, under_guardian_age: bool) -> None:
    confirmed = client.put("/me/age", json={"under_guardian_age": under_guardian_age},
                           headers=headers)
    assert confirmed.status_code == 200, confirmed.text


def set_consents(client, headers, consents: dict[str, bool]) -> None:
    changed = client.put("/me/consents", json={"consents": consents}, headers=headers)
    assert changed.status_code == 200, changed.text


def delivered(receiver: Receiver, runtime, count: int) -> list[tuple[str, str, tuple[str, ...]]]:
    """What the receiver got once ``count`` notices arrived and the outbox is empty (so
    nothing else is on its way)."""
    wait_for(lambda: len(receiver.notices) >= count, f"{count} notices")
    wait_for(lambda: pending_count(runtime.store.engine) == 0, "the outbox to empty")
    return [(n.type, n.subject, tuple(n.purposes)) for n in receiver.notices]


def test_a_guardian_withdrawal_notices_the_purposes_it_took_out_of_use(
    metalive, receiver, wallet
):
    client, runtime = metalive
    headers = bearer(client, wallet)
    confirm_age(client, headers, under_guardian_age=True)
    assert guardian_consent(client, wallet.address).status_code == 200
    set_consents(client, headers, {ANALYTICS: True, ADVERTISING: True, ACCESS_ANALYSIS: True})
    # Suspended already, so not in use: the withdrawal does not take it out of use.
    suspend(runtime.store, wallet.address, ACCESS_ANALYSIS, now=runtime.clock())

    withdrawn = guardian_consent(client, wallet.address, granted=False)

    assert withdrawn.status_code == 200, withdrawn.text
    assert delivered(receiver, runtime, 1) == [
        ("consent.withdrawn", wallet.address, (ANALYTICS, ADVERTISING)),
    ]
    assert receiver.notices[0].policy.id == "metalive"


def test_a_guardian_consent_and_a_withdrawal_of_nothing_in_use_send_nothing(
    metalive, receiver, wallet
):
    client, runtime = metalive
    headers = bearer(client, wallet)
    confirm_age(client, headers, under_guardian_age=True)

    assert guardian_consent(client, wallet.address).status_code == 200  # nothing granted yet
    assert guardian_consent(client, wallet.address, granted=False).status_code == 200
    assert guardian_consent(client, wallet.address, granted=False).status_code == 200  # again
    assert guardian_consent(client, wallet.address).status_code == 200
    set_consents(client, headers, {ANALYTICS: True})
    assert guardian_consent(client, wallet.address).status_code == 200  # a grant, in use
    # The user's own withdrawal marks the end: once it arrived and the outbox is empty,
    # any notice the guardian's changes had queued would have arrived too.
    set_consents(client, headers, {ANALYTICS: False})

    assert delivered(receiver, runtime, 1) == [
        ("consent.withdrawn", wallet.address, (ANALYTICS,)),
    ]


def test_an_adults_purposes_do_not_need_the_guardian_so_its_withdrawal_sends_nothing(
    metalive, receiver, wallet
):
    client, runtime = metalive
    headers = bearer(client, wallet)
    confirm_age(client, headers, under_guardian_age=False)
    assert guardian_consent(client, wallet.address).status_code == 200
    set_consents(client, headers, {ANALYTICS: True, ADVERTISING: True})

    assert guardian_consent(client, wallet.address, granted=False).status_code == 200
    set_consents(client, headers, {ADVERTISING: False})  # the end marker, as above

    assert delivered(receiver, runtime, 1) == [
        ("consent.withdrawn", wallet.address, (ADVERTISING,)),
    ]
    assert client.get("/me/consents", headers=headers).json()["on_hold"] == {}


def test_a_failed_withdrawal_leaves_neither_the_withdrawal_nor_its_notice(
    metalive, receiver, wallet, monkeypatch
):
    client, runtime = metalive
    headers = bearer(client, wallet)
    confirm_age(client, headers, under_guardian_age=True)
    assert guardian_consent(client, wallet.address).status_code == 200
    set_consents(client, headers, {ANALYTICS: True})
    write_audit = audit_module.write_audit

    def failing_audit(connection, event, **fields):
        # The audit entry is the transaction's last write: the event and the notice
        # are already in it when this fails.
        if event == "guardian_consent":
            # A WalletAuthError answers a clean 500; any other exception makes uvicorn
            # drop the connection after its 500, which the client may see first.
            raise StoreError("subject_key_missing", "failed mid-transaction")
        write_audit(connection, event, **fields)

    monkeypatch.setattr(audit_module, "write_audit", failing_audit)

    failed = guardian_consent(client, wallet.address, granted=False)

    assert (failed.status_code, failed.json()["code"]) == (500, "subject_key_missing")
    assert pending_count(runtime.store.engine) == 0
    assert runtime.store.subject_state(wallet.address).guardian_consent is True
    view = client.get("/me/consents", headers=headers).json()
    assert (view["consents"][ANALYTICS], view["on_hold"]) == (True, {})

    monkeypatch.setattr(audit_module, "write_audit", write_audit)
    assert guardian_consent(client, wallet.address, granted=False).status_code == 200
    assert delivered(receiver, runtime, 1) == [
        ("consent.withdrawn", wallet.address, (ANALYTICS,)),
    ]
