"""A policy change in the store: consents given to a purpose's earlier text are on hold
until given again (necessary purposes go on), and a new version is announced once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.policy.changes import abcrecords_v2
from tests.store.conftest import ALICE, NOW, table_counts
from walletauth.rights import record_provision
from walletauth.store import Store, StoreError, outbox
from walletauth.store.outbox import PendingNotice
from walletauth.store.policy_versions import announce_version
from walletauth.store.schema import consent_events
from walletauth.store.subject_state import consents

LATER = NOW + timedelta(days=30)


def _reopen(store: Store, backend, policy) -> Store:
    """The operator edited the TOML and restarted: same databases, new policy."""
    return Store.open(backend.url, policy=policy, secrets=store.secrets,
                      keystore_url=backend.keystore_url)


@pytest.fixture
def v2_store(store, backend):
    store.set_consent(ALICE, "quality_marketing", True, now=NOW)
    store.set_consent(ALICE, "partner_guidance", True, now=NOW)
    store.set_consent(ALICE, "prior_consent", True, now=NOW)
    changed = _reopen(store, backend, abcrecords_v2())
    yield changed
    changed.close()


def test_a_consent_to_the_changed_text_is_on_hold_and_the_others_go_on(v2_store):
    state = v2_store.subject_state(ALICE)
    assert state.outdated == {"quality_marketing"}
    assert consents(v2_store, ALICE) == {"service_provision": True, "quality_marketing": False,
                                        "partner_guidance": True}
    v2_store.put_record(ALICE, "contact_email", "partner_guidance", {"email": "a@example.org"},
                        now=LATER, source="user")
    # A consent ground whose text did not change goes on too.
    record_provision(v2_store, ALICE, "Partner KK", ["contact_email"], "prior_consent", now=LATER)


def test_an_outdated_consent_refuses_writes_and_hides_records(v2_store):
    before = table_counts(v2_store)
    with pytest.raises(StoreError) as refused:
        v2_store.put_record(ALICE, "inquiry", "quality_marketing",
                            {"message": "hi", "received_at": LATER.isoformat()},
                            now=LATER, source="user")
    assert refused.value.code == "policy_changed"
    assert table_counts(v2_store) == before
    assert v2_store.records(ALICE, "quality_marketing", now=LATER) == []


def test_the_next_sign_in_writes_no_analytics_log_until_consent_is_given_again(v2_store):
    v2_store.record_login(ALICE, 1, now=LATER, ip="192.0.2.7", user_agent="Firefox/120.0")
    assert v2_store.records(ALICE, "service_provision", now=LATER, category="access_log")
    assert v2_store.records(ALICE, "quality_marketing", now=LATER) == []
    v2_store.set_consent(ALICE, "quality_marketing", True, now=LATER)
    assert v2_store.subject_state(ALICE).outdated == frozenset()
    v2_store.record_login(ALICE, 1, now=LATER, ip="192.0.2.7", user_agent="Firefox/120.0")
    assert len(v2_store.records(ALICE, "quality_marketing", now=LATER,
                                category="access_log")) == 1


def test_a_withdrawn_consent_is_not_on_hold(store, backend):
    store.set_consent(ALICE, "quality_marketing", False, now=NOW)
    changed = _reopen(store, backend, abcrecords_v2())
    try:
        assert changed.subject_state(ALICE).outdated == frozenset()
    finally:
        changed.close()


@pytest.mark.parametrize(("version", "outdated"), [("1.0", set()), ("0.9", {"quality_marketing"})])
def test_a_consent_recorded_before_digests_is_judged_by_its_version(store, version, outdated):
    store.set_consent(ALICE, "quality_marketing", True, now=NOW)
    with store.engine.begin() as connection:
        connection.execute(sa.update(consent_events).values(text_digest=None,
                                                            policy_version=version))
    assert store.subject_state(ALICE).outdated == outdated


def _notices(store: Store, endpoints=("crm", "mailer"), policy=None):
    policy = policy or store.policy

    def notices_for(purposes):
        notice_id = "ntc_policy_" + policy.version.replace(".", "_")
        return [PendingNotice(notice_id=notice_id, endpoint=endpoint,
                              type="policy.changed", occurred_at=LATER,
                              policy_id=policy.id, policy_version=policy.version,
                              purposes=tuple(purposes)) for endpoint in endpoints]
    return notices_for


def test_a_new_version_is_announced_once_and_the_first_is_not(store, backend):
    assert announce_version(store.engine, store.secrets, store.policy, now=NOW,
                            notices_for=_notices(store)) is None
    assert outbox.pending_count(store.engine) == 0
    changed = _reopen(store, backend, abcrecords_v2())
    try:
        announced = announce_version(changed.engine, changed.secrets, changed.policy,
                                     now=LATER, notices_for=_notices(changed))
        assert announced == ("quality_marketing",)
        again = announce_version(changed.engine, changed.secrets, changed.policy, now=LATER,
                                 notices_for=_notices(changed))
        assert again is None
        queued = outbox.claim_due(changed.engine, changed.secrets, now=LATER, limit=10,
                                  lease=timedelta(minutes=1))
        assert sorted(n.endpoint for n in queued) == ["crm", "mailer"]
        assert {(n.type, n.subject, n.purposes, n.policy_version) for n in queued} == {
            ("policy.changed", "", ("quality_marketing",), "2.0")}
    finally:
        changed.close()


def test_workers_starting_together_announce_a_version_once(store, backend):
    announce_version(store.engine, store.secrets, store.policy, now=NOW,
                     notices_for=_notices(store))
    workers = [_reopen(store, backend, abcrecords_v2()) for _ in range(4)]
    barrier = threading.Barrier(len(workers))
    results: list[object] = []

    def start(worker: Store) -> None:
        barrier.wait()
        results.append(announce_version(worker.engine, worker.secrets, worker.policy,
                                        now=LATER, notices_for=_notices(worker)))

    threads = [threading.Thread(target=start, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.close()
    assert sorted(map(str, results)) == ["('quality_marketing',)", "None", "None", "None"]
    assert outbox.pending_count(store.engine) == 2


def test_a_return_to_an_earlier_version_is_what_the_next_one_is_compared_with(store, backend):
    from tests.policy.changes import abcrecords_v2_text
    from walletauth.policy import parse_policy

    # 3.0 keeps 1.0's marketing text and changes the partner guidance text instead.
    v3 = parse_policy(
        abcrecords_v2_text(with_change_entry=False)
        .replace('version = "2.0"', 'version = "3.0"', 1)
        .replace("本サービスの品質向上・開発・マーケティング・広告配信等",
                 "本サービスの品質向上・開発・マーケティング等", 1)
        .replace("Improving quality, development, marketing and ad delivery, etc.",
                 "Improving quality, development and marketing of the service, etc.", 1)
        .replace("の案内等", "の案内・紹介等", 1),
        origin="abcrecords-3.0.toml")
    versions = [store.policy, abcrecords_v2(), store.policy, v3]
    announced = []
    for day, policy in enumerate(versions):
        announced.append(announce_version(store.engine, store.secrets, policy,
                                          now=NOW + timedelta(days=day),
                                          notices_for=_notices(store, policy=policy)))
    assert announced == [None, ("quality_marketing",), None, ("partner_guidance",)]
