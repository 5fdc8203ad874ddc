"""A policy change over HTTP, on SQLite and PostgreSQL: the operator edits the policy and
restarts; consents to the changed purpose's text are on hold until granted again (the
consent screen says what changed), necessary purposes go on, registered services get one
signed ``policy.changed`` notice and the SDK's permission check answers
``policy_changed``; ``GET /policy`` serves the version, effective date and history."""

from __future__ import annotations

import json
from contextlib import contextmanager

import httpx
import pytest

from tests.policy.changes import NEW_MARKETING_JA, write_v2
from tests.server.conftest import make_settings, serving, sign_in
from tests.server.test_delivery_worker import FAST, SECRET, Receiver, wait_for
from walletauth.sdk import Client
from walletauth.server.config.services import hash_api_key, new_api_key

MUSIC_KEY = new_api_key()


@pytest.fixture
def receiver():
    made = Receiver()
    made.up()
    yield made
    made.down()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def deployment(request, tmp_path, monkeypatch, receiver):
    """Settings for a deployment with the music service registered, and a way to restart
    it under another policy file."""
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    overrides = {"services": {"music": {
        "api_key_sha256": hash_api_key(MUSIC_KEY),
        "purposes": ["service_provision", "quality_marketing", "partner_guidance"],
        "webhook_url": receiver.url, "webhook_secrets": [SECRET]}}}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_url")

    @contextmanager
    def running(policy: str = "abcrecords"):
        settings = make_settings(tmp_path, policy=policy, **overrides)
        with serving(settings) as (url, app), httpx.Client(base_url=url, timeout=30) as http:
            yield http, app.state.runtime

    return running


def _auth(http, wallet):
    response = sign_in(http, wallet)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_changed_purpose_is_on_hold_until_granted_again(deployment, wallet, tmp_path,
                                                          receiver):
    with deployment() as (http, _runtime):
        auth = _auth(http, wallet)
        granted = http.put("/me/consents", headers=auth, json={
            "consents": {"quality_marketing": True, "partner_guidance": True}})
        assert granted.status_code == 200, granted.text
        assert http.get("/policy").json()["version"] == "1.0"
    assert receiver.notices == []  # the first version a database sees changes nothing

    with deployment(str(write_v2(tmp_path))) as (http, _runtime):
        auth = _auth(http, wallet)  # signing in (a necessary purpose) goes on
        view = http.get("/me/consents", headers=auth).json()
        assert view["consents"] == {"service_provision": True, "quality_marketing": False,
                                    "partner_guidance": True}
        assert view["on_hold"] == {"quality_marketing": "policy_changed"}
        assert view["changed"] == {"quality_marketing": {
            "changed_in": "2.0", "summary": {"ja": "広告配信を追加しました",
                                             "en": "Ad delivery was added"}}}
        with Client(str(http.base_url), MUSIC_KEY) as music:
            assert music.allowed(wallet.address, "quality_marketing").reason == "policy_changed"
            assert music.allowed(wallet.address, "partner_guidance").allowed
            assert music.allowed(wallet.address, "service_provision").allowed

            again = http.put("/me/consents", headers=auth,
                             json={"purpose": "quality_marketing", "granted": True})
            assert again.json()["on_hold"] == {} and again.json()["changed"] == {}
            assert again.json()["consents"]["quality_marketing"] is True
            assert music.allowed(wallet.address, "quality_marketing").allowed

        wait_for(lambda: receiver.notices, "the policy.changed notice")
    [notice] = receiver.notices
    assert (notice.type, notice.subject, notice.purposes) == (
        "policy.changed", None, ("quality_marketing",))
    assert (notice.policy.id, notice.policy.version) == ("abcrecords", "2.0")


def test_the_policy_serves_its_version_effective_date_and_history(deployment, tmp_path,
                                                                   receiver):
    with deployment(str(write_v2(tmp_path, new_purpose=True))) as (http, _runtime):
        ja = http.get("/policy", params={"lang": "ja"}).json()
    assert (ja["version"], ja["effective_date"]["date"]) == ("2.0", "2026-12-01")
    assert ja["effective_date"]["set_by"] == "operator"
    assert [change["version"] for change in ja["changes"]] == ["2.0"]
    by_id = {purpose["id"]: purpose for purpose in ja["purposes"]}
    assert by_id["quality_marketing"]["text"] == NEW_MARKETING_JA
    assert (by_id["newsletter"]["changed_in"], by_id["newsletter"]["default_on"]) == ("2.0",
                                                                                     False)
    assert ja["amendment"]["clause"] == "ABCRECORDS 11"


def test_several_workers_announce_a_version_once(deployment, tmp_path, receiver):
    with deployment():
        pass
    policy = str(write_v2(tmp_path))
    with deployment(policy), deployment(policy) as (_http, runtime):
        wait_for(lambda: receiver.notices, "the policy.changed notice")
        wait_for(lambda: _pending(runtime) == 0,
                 "the outbox to empty")
    with deployment(policy):
        pass
    assert [notice.type for notice in receiver.notices] == ["policy.changed"]


def _pending(runtime) -> int:
    from walletauth.store.outbox import pending_count
    return pending_count(runtime.store.engine)


def test_notices_keep_their_json_form_for_a_policy_change():
    from walletauth.sdk.notices import Notice, PolicyRef, notice_body, notice_from_body

    notice = Notice.new("policy.changed", None, policy=PolicyRef(id="abcrecords", version="2.0"),
                        occurred_at="2026-12-01T00:00:00Z", purposes=("quality_marketing",))
    assert json.loads(notice_body(notice))["data"]["subject"] is None
    assert notice_from_body(notice_body(notice)) == notice
    with pytest.raises(ValueError, match="must not name a subject"):
        Notice.new("policy.changed", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                   policy=notice.policy, occurred_at=notice.occurred_at)
    with pytest.raises(ValueError, match="must name a subject"):
        Notice.new("consent.withdrawn", None, policy=notice.policy,
                   occurred_at=notice.occurred_at)
