"""The music catalogue example and walletauth, both served for real on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn

from examples.catalogue_service import CatalogueConfig, create_catalogue_app
from tests.rights.helpers import signed_request
from tests.server.conftest import Wallet, free_socket, make_settings, serving, sign_in
from walletauth.sdk import Notice, new_webhook_secret, sign_notice
from walletauth.sdk.notices import PolicyRef
from walletauth.server.config.services import hash_api_key, new_api_key

API_KEY = new_api_key()
SECRET = new_webhook_secret()


@contextlib.contextmanager
def serving_app(app, sock):
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])),
                              daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), "the catalogue to start")
        host, port = sock.getsockname()
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def wait_for(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def services(tmp_path, monkeypatch):
    """walletauth with the catalogue registered (and its notice delivery quick), and the
    catalogue pointed at walletauth."""
    monkeypatch.setenv("WALLETAUTH_NOTICE_INTERVAL", "0.05")
    catalogue_socket = free_socket()
    host, port = catalogue_socket.getsockname()
    registered = {"catalogue": {
        "api_key_sha256": hash_api_key(API_KEY),
        "purposes": ["service_provision", "quality_marketing"],
        "webhook_url": f"http://{host}:{port}/notices",
        "webhook_secrets": [SECRET],
    }}
    settings = make_settings(tmp_path, services=registered)
    with serving(settings) as (walletauth_url, walletauth_app):
        catalogue = create_catalogue_app(CatalogueConfig(
            walletauth_url=walletauth_url, api_key=API_KEY, issuer=settings.issuer,
            webhook_secrets=(SECRET,)))
        with (serving_app(catalogue, catalogue_socket) as catalogue_url,
              httpx.Client(base_url=walletauth_url, timeout=30) as walletauth,
              httpx.Client(base_url=catalogue_url, timeout=30) as music):
            yield walletauth, music, catalogue, walletauth_app.state.runtime


def test_signed_in_wallet_uses_the_catalogue_as_walletauth_allows_and_is_erased_there_too(
    services,
):
    walletauth, music, catalogue, _runtime = services
    wallet = Wallet()
    token = sign_in(walletauth, wallet).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    assert music.get("/favourites").status_code == 401  # no token, no catalogue
    added = music.post("/favourites", json={"track": "Blue in Green"}, headers=auth)
    assert added.status_code == 200, added.text
    assert added.json() == {"tracks": ["Blue in Green"]}
    assert music.get("/recommendations", headers=auth).json() == {
        "tracks": [], "reason": "consent_required"}

    granted = walletauth.put("/me/consents", headers=auth,
                             json={"purpose": "quality_marketing", "granted": True})
    assert granted.status_code == 200, granted.text
    assert music.get("/recommendations", headers=auth).json() == {
        "tracks": ["more like Blue in Green"], "reason": None}

    suspended = walletauth.post("/me/restrictions", headers=auth, json={
        **signed_request(walletauth, wallet, "restrict"), "purposes": ["quality_marketing"]})
    assert suspended.status_code == 200, suspended.text
    assert music.get("/recommendations", headers=auth).json()["reason"] == "purpose_suspended"

    erased = walletauth.post("/me/erase", json=signed_request(walletauth, wallet, "erase"),
                             headers=auth)
    assert erased.status_code == 200, erased.text
    def erasure_notices() -> list[str]:
        return [id_ for type_, id_ in catalogue.state.notices_acted_on
                if type_ == "subject.erased"]

    wait_for(erasure_notices, "the erasure notice")
    time.sleep(0.3)  # several more delivery rounds: a delivered notice is not sent again

    assert len(erasure_notices()) == 1
    # The suspension's notice may or may not have gone out before the erasure superseded it.
    acted_on_types = {type_ for type_, _ in catalogue.state.notices_acted_on}
    assert acted_on_types <= {"subject.erased", "subject.restricted"}
    assert wallet.address not in catalogue.state.favourites.by_wallet
    # The erasure ended the session: its token, still unexpired, opens nothing here.
    after = music.get("/favourites", headers=auth)
    assert (after.status_code, after.json()["code"]) == (401, "token_revoked")


def test_signing_out_of_walletauth_signs_out_of_the_catalogue(services):
    walletauth, music, _catalogue, _runtime = services
    token = sign_in(walletauth, Wallet()).json()["access_token"]
    walletauth.cookies.clear()  # the token alone names the session to end
    auth = {"Authorization": f"Bearer {token}"}
    assert music.get("/favourites", headers=auth).status_code == 200

    assert walletauth.post("/auth/logout", headers=auth).status_code == 204

    refused = music.get("/favourites", headers=auth)
    assert (refused.status_code, refused.json()["code"]) == (401, "token_revoked")
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_a_forged_notice_is_refused_and_erases_nothing(services):
    _walletauth, music, catalogue, _runtime = services
    victim = Wallet().address
    catalogue.state.favourites.add(victim, "So What")
    now = datetime.now(UTC)
    notice = Notice(id="ntc_forged0000000000000000", type="subject.erased", subject=victim,
                    occurred_at=now, policy=PolicyRef(id="abcrecords", version="1"))
    body, headers = sign_notice(notice, [new_webhook_secret()], now=now)

    refused = music.post("/notices", content=body, headers=headers)

    assert refused.status_code == 400
    assert refused.json()["code"] == "notice_signature_invalid"
    assert catalogue.state.favourites.of(victim) == ["So What"]
    assert catalogue.state.notices_acted_on == []
