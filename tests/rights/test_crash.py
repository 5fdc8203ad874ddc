"""An erasure killed (SIGKILL) at a random moment leaves the subject whole or gone."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, NOW
from walletauth.policy.loader import load_policy
from walletauth.store import Secrets, Store
from walletauth.store.dossier import read_dossier
from walletauth.store.rights_schema import notice_outbox, rights_requests

RECORDS = 2000

ERASE_IN_CHILD = """
import sys
from datetime import timedelta
from tests.store.conftest import ALICE, NOW
from walletauth.policy.loader import load_policy
from walletauth.rights import erase_subject
from walletauth.store import Secrets, Store
store = Store.open(sys.argv[1], policy=load_policy("abcrecords"),
                   secrets=Secrets.load_or_create(sys.argv[2]))
print("ready", flush=True)
erase_subject(store, ALICE, now=NOW + timedelta(hours=1), notify=["music"])
print("done", flush=True)
"""


@pytest.fixture(scope="module")
def populated(tmp_path_factory) -> Path:
    """A data dir holding one subject with many records, copied for every run."""
    directory = tmp_path_factory.mktemp("populated")
    store = Store.open(f"sqlite:///{directory}/data/walletauth.db",
                       policy=load_policy("abcrecords"),
                       secrets=Secrets.load_or_create(directory / "secrets"))
    store.record_login(ALICE, 1, now=NOW)
    with store.engine.begin() as connection:
        subject_id = connection.exec_driver_sql("SELECT id FROM subjects").scalar_one()
        existing = connection.exec_driver_sql("SELECT count(*) FROM records").scalar_one()
        template = connection.exec_driver_sql(
            "SELECT category, purpose, basis, collected_at, updated_at, expires_at, source,"
            " policy_version, data FROM records").first()
        connection.exec_driver_sql(
            "INSERT INTO records (subject_id, category, purpose, basis, collected_at,"
            " updated_at, expires_at, source, policy_version, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(subject_id, *template)] * (RECORDS - existing),
        )
    store.close()
    return directory


@pytest.mark.slow
@pytest.mark.parametrize("run", range(4))
def test_a_killed_erasure_leaves_the_subject_whole_or_gone(populated, tmp_path, run):
    directory = tmp_path / "copy"
    shutil.copytree(populated, directory)
    url = f"sqlite:///{directory}/data/walletauth.db"
    child = subprocess.Popen(
        [sys.executable, "-c", ERASE_IN_CHILD, url, str(directory / "secrets")],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    time.sleep(random.Random(run).uniform(0, 0.08))
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    store = Store.open(url, policy=load_policy("abcrecords"),
                       secrets=Secrets.load_or_create(directory / "secrets"))
    try:
        dossier = read_dossier(store, ALICE)
        with store.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT count(*) FROM records")).scalar_one()
            outbox = connection.execute(
                sa.select(sa.func.count()).select_from(notice_outbox)).scalar_one()
            statuses = connection.execute(sa.select(rights_requests.c.status)).scalars().all()
    finally:
        store.close()
    if dossier.found:
        assert len(dossier.records) == rows == RECORDS
        assert outbox == 0 and "completed" not in statuses
    else:
        assert rows == 0 and outbox == 1 and statuses == ["completed"]
