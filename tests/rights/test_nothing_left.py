"""After an erasure no copy of the address is left: not in the SQLite files (free pages
and WAL included), not in a PostgreSQL dump, not in the service's logs."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.rights.helpers import leaks, signed_request
from tests.server.conftest import make_settings, serving

CLIENT_IP = "203.0.113.77"


def raw_files(directory: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in directory.rglob("*") if path.is_file()}


def postgres_dump(url: str) -> bytes:
    """pg_dump of the database if it is on PATH, else every column of every table."""
    libpq_url = sa.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    if shutil.which("pg_dump"):
        return subprocess.run(["pg_dump", "--no-owner", libpq_url], check=True,
                              capture_output=True).stdout
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return b"\n".join(
                repr(row).encode()
                for table in sa.inspect(connection).get_table_names()
                for row in connection.execute(sa.text(f'SELECT * FROM "{table}"'))
            )
    finally:
        engine.dispose()


def use_the_service_then_erase(http, wallet, clock, runtime):
    forwarded = {"X-Forwarded-For": CLIENT_IP, "User-Agent": "Mozilla/5.0 Firefox/130.0"}
    nonce = http.get("/auth/nonce", headers=forwarded).json()["nonce"]
    token = http.post("/auth/verify", json=wallet.signed_body(nonce), headers=forwarded)
    auth = {"Authorization": f"Bearer {token.json()['access_token']}", **forwarded}
    store = runtime.store
    for index in range(50):
        store.put_record(wallet.address, "contact_email", "service_provision",
                         {"email": f"{wallet.address.lower()}+{index}@x.io"}, now=clock(),
                         source="signup")
    store.set_consent(wallet.address, "prior_consent", True, now=clock())
    assert http.post("/me/export", json=signed_request(http, wallet, "export"),
                     headers=auth).status_code == 200
    erased = http.post("/me/erase", json=signed_request(http, wallet, "erase"), headers=auth)
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"]["contact_email"] == 50


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_logs_clean(logs, address):
    service = [r for r in logs.records if r.name.startswith(("walletauth", "uvicorn"))]
    text = "\n".join(record.getMessage() for record in service).encode()
    assert any("/me/erase" in record.getMessage() for record in service)
    assert leaks(text, address) == []
    assert CLIENT_IP.encode() not in text


def test_sqlite_files_hold_no_copy_of_an_erased_address(tmp_path, clock, wallet, logs):
    settings = make_settings(tmp_path, trusted_proxies="127.0.0.1/32")
    with (serving(settings, clock) as (url, app), httpx.Client(base_url=url) as http):
        use_the_service_then_erase(http, wallet, clock, app.state.runtime)
        while_running = raw_files(settings.data_dir)
    after_close = raw_files(settings.data_dir)

    assert any(name.endswith(".sqlite3-wal") for name in while_running)
    for files in (while_running, after_close):
        assert {name: leaks(blob, wallet.address) for name, blob in files.items()
                if leaks(blob, wallet.address)} == {}
    assert_logs_clean(logs, wallet.address)


@pytest.mark.postgres
def test_a_postgresql_dump_holds_no_copy_of_an_erased_address(
    tmp_path, clock, wallet, logs, postgres_url
):
    settings = make_settings(tmp_path, trusted_proxies="127.0.0.1/32", database_url=postgres_url)
    with (serving(settings, clock) as (url, app), httpx.Client(base_url=url) as http):
        use_the_service_then_erase(http, wallet, clock, app.state.runtime)
        dump = postgres_dump(postgres_url)

    assert b"rights_requests" in dump and b"notice_outbox" in dump
    assert leaks(dump, wallet.address) == []
    assert_logs_clean(logs, wallet.address)


def test_the_leak_detector_finds_each_form_it_looks_for(wallet):
    from tests.rights.helpers import address_forms

    for name, form in address_forms(wallet.address).items():
        assert name in leaks(b"..." + form + b"...", wallet.address)
