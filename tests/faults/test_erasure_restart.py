"""PostgreSQL restarted (``pg_ctl restart -m fast``) while erasures run: each subject is
afterwards whole or erased, checked on the raw tables; over HTTP an erasure cut by the
restart is a 503 with Retry-After, never a 500, and the same request works once the
database is back."""

from __future__ import annotations

import secrets as random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tests.rights.helpers import signed_request
from tests.server.conftest import Wallet, make_settings, serving, sign_in
from walletauth.errors import WalletAuthError
from walletauth.policy.loader import load_policy
from walletauth.rights import erase_subject, list_requests, record_provision
from walletauth.store import Secrets, Store

SUBJECTS = 160
ERASING_THREADS = 4
FILLER_RECORDS = 40
"""Extra rows per subject, so an erasure's transaction lasts long enough to be cut."""


@dataclass(frozen=True)
class Before:
    address: str
    subject_id: int
    key_id: str
    records: int
    consent_events: int
    sessions: int
    provisions: int


def test_an_erasure_cut_by_a_restart_is_whole_or_absent_on_the_raw_tables(
    tmp_path, throwaway_postgres
):
    now = datetime.now(UTC)
    store = Store.open(throwaway_postgres.url, policy=load_policy("abcrecords"),
                       secrets=Secrets.load_or_create(tmp_path / "secrets"))
    try:
        before = [_populate(store, index, now) for index in range(SUBJECTS)]
        failures = _erase_all_while_restarting(store, throwaway_postgres, before, now)
        # Some erasures were refused or cut, some went through: the restart fell among them.
        assert 0 < len(failures) < SUBJECTS, failures

        store.purge(now=now + timedelta(minutes=2), orphan_grace=timedelta(0))
        outcomes = {subject.address: _outcome(store, subject) for subject in before}
    finally:
        store.close()

    assert set(outcomes.values()) <= {"whole", "erased"}, outcomes
    erased = {address for address, outcome in outcomes.items() if outcome == "erased"}
    # An erasure that raised may still have committed (the answer was lost, not the work);
    # one that returned is erased for certain.
    assert {address for address in outcomes if address not in failures} <= erased
    assert 0 < len(erased) < SUBJECTS


def _populate(store: Store, index: int, now: datetime) -> Before:
    address = Wallet().address
    store.record_login(address, 1, now=now, ip="203.0.113.9", user_agent="curl/8.0")
    for _ in range(FILLER_RECORDS):
        store.put_record(address, "contact_email", "service_provision",
                         {"email": f"{index}@example.org"}, now=now, source="signup")
    store.set_consent(address, "prior_consent", True, now=now)
    store.create_session(random.token_hex(16), address, expires_at=now + timedelta(days=1))
    if index % 2:  # half of them have a provision, whose record the law keeps
        record_provision(store, address, "Partner KK", ["contact_email"], "prior_consent",
                         now=now)
    with store.engine.connect() as connection:
        subject_id, key_id = connection.execute(sa.text(
            "SELECT id, key_id FROM subjects ORDER BY id DESC LIMIT 1")).one()
    counts = _counts(store, subject_id)
    return Before(address, subject_id, key_id, **counts)


def _erase_all_while_restarting(store, postgres, before, now) -> dict[str, str]:
    failures: dict[str, str] = {}
    queue = list(before)
    lock = threading.Lock()

    def erase_some() -> None:
        while True:
            with lock:
                if not queue:
                    return
                subject = queue.pop()
            try:
                erase_subject(store, subject.address, now=now + timedelta(minutes=1))
            except (DBAPIError, WalletAuthError) as error:
                failures[subject.address] = type(error).__name__

    threads = [threading.Thread(target=erase_some) for _ in range(ERASING_THREADS)]
    for thread in threads:
        thread.start()
    while len(queue) > SUBJECTS * 3 // 4:  # a quarter done: the rest runs into the restart
        time.sleep(0.005)
    postgres.pg_ctl("restart", "-m", "fast")
    for thread in threads:
        thread.join(timeout=120)
    return failures


def _counts(store: Store, subject_id: int) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {
            name: connection.execute(sa.text(
                f"SELECT count(*) FROM {table} WHERE subject_id = :id"),
                {"id": subject_id}).scalar_one()
            for name, table in (("records", "records"), ("consent_events", "consent_events"),
                                ("sessions", "sessions"),
                                ("provisions", "third_party_provisions"))
        }


def _outcome(store: Store, subject: Before) -> str:
    """'whole', 'erased', or what is wrong, read on the raw rows and the key store."""
    with store.engine.connect() as connection:
        subject_row = connection.execute(sa.text(
            "SELECT key_id FROM subjects WHERE id = :id"), {"id": subject.subject_id}).first()
        key = connection.execute(sa.text(
            "SELECT count(*) FROM keystore_subject_keys WHERE key_id = :key"),
            {"key": subject.key_id}).scalar_one()
    counts = _counts(store, subject.subject_id)
    erasures = [r.status for r in list_requests(store, subject.address) if r.kind == "erase"]
    whole = {"records": subject.records, "consent_events": subject.consent_events,
             "sessions": subject.sessions, "provisions": subject.provisions}
    if subject_row is not None and key == 1 and counts == whole:
        return "whole" if "completed" not in erasures else f"whole but logged {erasures}"
    # Erased: only the provision records the law keeps (APPI Art. 29) may remain, and with
    # them the subject row and its key (they are sealed under it); otherwise all is gone.
    erased = {"records": 0, "consent_events": 0, "sessions": 0,
              "provisions": subject.provisions}
    keeps = subject.provisions > 0
    if (counts == erased and (subject_row is not None) == keeps and key == int(keeps)
            and erasures.count("completed") == 1):
        return "erased"
    return f"half: row={subject_row is not None} key={key} {counts} {erasures}"


def test_an_erasure_over_http_during_a_restart_is_200_or_503_and_works_after(
    tmp_path, throwaway_postgres
):
    settings = make_settings(tmp_path, database_url=throwaway_postgres.url, rate_limits="off")
    with serving(settings) as (url, _app), httpx.Client(base_url=url, timeout=60) as http:
        wallets = [Wallet() for _ in range(24)]
        tokens = {}
        for wallet in wallets:
            signed = sign_in(http, wallet)
            assert signed.status_code == 200, signed.text
            tokens[wallet.address] = {"Authorization":
                                      f"Bearer {signed.json()['access_token']}"}
        bodies = {w.address: signed_request(http, w, "erase") for w in wallets}
        answers: dict[str, httpx.Response] = {}

        def erase(wallet: Wallet) -> None:
            with httpx.Client(base_url=url, timeout=60) as own:
                answers[wallet.address] = own.post(
                    "/me/erase", json=bodies[wallet.address], headers=tokens[wallet.address])

        threads = [threading.Thread(target=erase, args=(w,)) for w in wallets]
        restart = threading.Thread(target=throwaway_postgres.pg_ctl,
                                   args=("restart", "-m", "fast"))
        restart.start()
        for thread in threads:
            thread.start()
            time.sleep(0.05)
        for thread in [restart, *threads]:
            thread.join(timeout=120)

        statuses = {address: answer.status_code for address, answer in answers.items()}
        assert 503 in statuses.values(), statuses  # the restart fell among them
        assert set(statuses.values()) <= {200, 503}, {
            a: answers[a].text for a, s in statuses.items() if s not in {200, 503}}
        refused = [a for a, s in statuses.items() if s == 503]
        for address in refused:
            problem = answers[address]
            assert problem.json()["code"] == "database_unavailable"
            assert "retry-after" in problem.headers
        # Retried once the database is back: a 503'd erasure completes (or had already).
        for wallet in wallets:
            if wallet.address in refused:
                retry = http.post("/me/erase", json=signed_request(http, wallet, "erase"),
                                  headers=tokens[wallet.address])
                assert retry.status_code in {200, 401}, retry.text
            session = http.get("/auth/session", headers=tokens[wallet.address])
            assert session.status_code == 401, session.text  # every one erased in the end
