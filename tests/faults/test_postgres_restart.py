"""PostgreSQL restarted mid-traffic (``pg_ctl restart -m fast``): requests in flight are
answered 503 with a code and Retry-After (never a 500), the pool recovers by itself, and
no sign-in is half-written."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import sqlalchemy as sa

from tests.server.conftest import Wallet, make_settings, serving


def test_a_postgres_restart_is_a_503_then_sign_ins_work_again(tmp_path, throwaway_postgres):
    settings = make_settings(tmp_path, database_url=throwaway_postgres.url, rate_limits="off")
    statuses: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    without_retry_after = [0]
    stop = threading.Event()

    with serving(settings) as (url, _app):
        def keep_signing_in() -> None:
            with httpx.Client(base_url=url, timeout=30) as client:
                while not stop.is_set():
                    answer = _sign_in(client, Wallet())
                    statuses[answer.status_code] += 1
                    if answer.status_code >= 500:
                        codes[answer.json()["code"]] += 1
                        without_retry_after[0] += "retry-after" not in answer.headers

        traffic = [threading.Thread(target=keep_signing_in) for _ in range(4)]
        for thread in traffic:
            thread.start()
        time.sleep(1)
        throwaway_postgres.pg_ctl("restart", "-m", "fast")
        time.sleep(1)
        stop.set()
        for thread in traffic:
            thread.join(timeout=60)

        with httpx.Client(base_url=url, timeout=30) as client:
            recovered = _sign_in(client, Wallet())  # no walletauth restart
        assert recovered.status_code == 200, recovered.text

    assert statuses[500] == 0, (statuses, codes)
    assert set(statuses) <= {200, 503}, statuses
    assert set(codes) <= {"database_unavailable"}, codes
    assert without_retry_after == [0]
    successes = statuses[200] + 1
    # Each sign-in is one transaction: a wallet record, an access log and a session
    # together, or none of them (a 503 whose commit still landed counts on both sides).
    sessions, access_logs = _sessions_and_access_logs(throwaway_postgres.url)
    assert sessions == access_logs
    assert successes <= sessions <= successes + statuses[503]


def _sign_in(client: httpx.Client, wallet: Wallet) -> httpx.Response:
    nonce = client.get("/auth/nonce")
    if nonce.status_code != 200:
        return nonce
    return client.post("/auth/verify", json=wallet.signed_body(nonce.json()["nonce"]))


def _sessions_and_access_logs(url: str) -> tuple[int, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            sessions = connection.execute(sa.text("SELECT count(*) FROM sessions")).scalar_one()
            logs = connection.execute(sa.text(
                "SELECT count(*) FROM records WHERE category = 'access_log'")).scalar_one()
    finally:
        engine.dispose()
    return sessions, logs
