"""`walletauth purge` shows a progress bar on a terminal (and only there: piped, its
output stays the lines scripts read)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from walletauth.policy.loader import load_policy
from walletauth.server.config.settings import Settings
from walletauth.server.runtime import open_store, prepare_data_dir
from walletauth.store import Secrets

COMMAND = [sys.executable, "-c", "from walletauth.cli import app; app()"]


def expired_records(data_dir, how_many: int) -> None:
    settings = Settings(data_dir=data_dir)
    prepare_data_dir(settings)
    store = open_store(settings, load_policy(settings.policy),
                       Secrets.load_or_create(data_dir / "secrets"))
    long_ago = datetime.now(UTC) - timedelta(days=800)
    try:
        for index in range(how_many):
            address = "0x" + f"{index + 1:040x}"
            store.put_record(address, "contact_email", "service_provision",
                             {"email": f"{index}@x.io"}, now=long_ago, source="signup")
    finally:
        store.close()


def run_on_a_terminal(arguments: list[str], env: dict[str, str]) -> tuple[str, str]:
    """stdout piped, stderr a pseudo-terminal: what a person at a terminal sees there."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(COMMAND + arguments, stdout=subprocess.PIPE, stderr=terminal,
                               env=env, text=True)
    os.close(terminal)
    seen = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    stdout = process.stdout.read()
    assert process.wait(timeout=60) == 0
    os.close(controller)
    return stdout, seen.decode("utf-8", "replace")


def test_purge_draws_a_progress_bar_on_a_terminal(tmp_path):
    expired_records(tmp_path / "data", 40)
    env = {**os.environ, "WALLETAUTH_DATA_DIR": str(tmp_path / "data")}
    stdout, terminal = run_on_a_terminal(["purge", "--batch-size", "5"], env)
    assert "purge" in terminal and "80/80" in terminal and "100%" in terminal  # 40 + 40
    lines = stdout.splitlines()
    assert "records contact_email/service_provision: 40" in lines
    assert "subjects: 40" in lines


def test_purge_draws_nothing_when_piped(tmp_path):
    expired_records(tmp_path / "data", 3)
    env = {**os.environ, "WALLETAUTH_DATA_DIR": str(tmp_path / "data")}
    piped = subprocess.run([*COMMAND, "purge"], capture_output=True, text=True, env=env,
                           check=True)
    assert piped.stderr == ""
    assert "records: 3" in piped.stdout.splitlines()


def test_migrate_draws_a_bar_of_the_revisions_it_applies(tmp_path):
    from walletauth.store.migrate import pending_revisions

    url = f"sqlite:///{tmp_path / 'data' / 'walletauth.sqlite3'}"
    (tmp_path / "data").mkdir()
    steps = len(pending_revisions(url))
    assert steps >= 7  # every records revision and the key store's
    env = {**os.environ, "WALLETAUTH_DATA_DIR": str(tmp_path / "data")}
    stdout, terminal = run_on_a_terminal(["migrate"], env)
    assert f"{steps}/{steps}" in terminal and "100%" in terminal
    assert stdout.strip() == "database is up to date"
    assert pending_revisions(url) == []
    _, again = run_on_a_terminal(["migrate"], env)
    assert "migrate" not in again  # nothing to apply, no bar


def test_a_stepwise_migration_ends_where_a_whole_one_does(tmp_path, postgres_url):
    from walletauth.store.engines import create_engine
    from walletauth.store.migrate import migrate, pending_revisions, schema_differences

    ticks: list[tuple[str, str]] = []
    expected = pending_revisions(postgres_url)
    migrate(postgres_url, on_step=lambda schema, revision: ticks.append((schema, revision)))
    assert ticks == expected
    engine = create_engine(postgres_url)
    try:
        assert schema_differences(engine, "records") == []
        assert schema_differences(engine, "keystore") == []
    finally:
        engine.dispose()
