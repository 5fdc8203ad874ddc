"""`walletauth secrets`: add a version, re-wrap everything under it (a progress bar on a
terminal only), retire the old one once nothing uses it; subjects keep signing in and
exporting throughout. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.console.test_cli_progress import COMMAND, run_on_a_terminal
from walletauth.policy.loader import load_policy
from walletauth.rights.operations import export_subject
from walletauth.server.config.settings import Settings
from walletauth.server.runtime import open_store, prepare_data_dir
from walletauth.store import Secrets, Store

SUBJECTS = 30


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def environment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("WALLETAUTH_")}
    env["WALLETAUTH_DATA_DIR"] = str(tmp_path / "data")
    if request.param == "postgres":
        env["WALLETAUTH_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    yield env


def address(index: int) -> str:
    return "0x" + f"{index + 1:040x}"


def opened(env: dict[str, str]) -> Store:
    settings = Settings(data_dir=Path(env["WALLETAUTH_DATA_DIR"]),
                        database_url=env.get("WALLETAUTH_DATABASE_URL"))
    prepare_data_dir(settings)
    return open_store(settings, load_policy(settings.policy),
                      Secrets.load_or_create(settings.data_dir / "secrets"))


def signed_in(env: dict[str, str], how_many: int) -> None:
    store = opened(env)
    try:
        for index in range(how_many):
            store.record_login(address(index), 1, now=datetime.now(UTC))
    finally:
        store.close()


def cli(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, "secrets", *arguments], capture_output=True, text=True,
                          env=env, timeout=120)


def test_add_rewrap_retire_keeps_every_subject(environment):
    env = environment
    signed_in(env, SUBJECTS)
    secrets_dir = Path(env["WALLETAUTH_DATA_DIR"]) / "secrets"

    added = cli(env, "add")
    assert added.returncode == 0, added.stderr
    assert "secrets version 2 written" in added.stdout
    assert "restart every worker" in added.stdout and "secrets rewrap" in added.stdout
    listed = cli(env, "list").stdout.splitlines()
    assert listed == [f"v1  keys {SUBJECTS}  refs {SUBJECTS}  old",
                      "v2  keys 0  refs 0  current"]

    refused = cli(env, "retire", "1")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert f"still holds {SUBJECTS} subject keys and {SUBJECTS} subject refs" in refused.stderr
    assert (secrets_dir / "v1.json").exists()

    stdout, terminal = run_on_a_terminal(["secrets", "rewrap", "--batch-size", "7"], env)
    total = 2 * SUBJECTS  # every key and every ref
    assert "rewrap" in terminal and f"{total}/{total}" in terminal and "100%" in terminal
    assert stdout.splitlines() == ["current version: 2", f"keys re-wrapped: {SUBJECTS}",
                                   f"refs recomputed: {SUBJECTS}"]
    again = cli(env, "rewrap")
    assert again.returncode == 0 and again.stderr == ""
    assert "keys re-wrapped: 0" in again.stdout and "refs recomputed: 0" in again.stdout
    _, quiet = run_on_a_terminal(["secrets", "rewrap"], env)
    assert "rewrap" not in quiet  # nothing to move, no bar
    assert cli(env, "list").stdout.splitlines() == [
        "v1  keys 0  refs 0  old", f"v2  keys {SUBJECTS}  refs {SUBJECTS}  current"]

    for refusal in (("retire", "2"), ("retire", "9")):
        result = cli(env, *refusal)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, refusal
        assert "Traceback" not in result.stderr
    retired = cli(env, "retire", "1")
    assert retired.returncode == 0, retired.stderr
    assert sorted(path.name for path in secrets_dir.glob("v*.json")) == ["v2.json"]

    # With only version 2 left on disk, every subject signs in and exports as before.
    store = opened(env)
    try:
        assert sorted(store.secrets.versions) == [2]
        now = datetime.now(UTC)
        for index in range(SUBJECTS):
            store.record_login(address(index), 1, now=now)
            document = export_subject(store, address(index), now=now)
            assert any(record["category"] == "wallet_address"
                       for record in document["records"])
        assert store.pending_rotation() == 0
    finally:
        store.close()


def test_rewrap_draws_nothing_when_piped(environment):
    signed_in(environment, 3)
    assert cli(environment, "add").returncode == 0
    piped = cli(environment, "rewrap", "--batch-size", "2")
    assert piped.returncode == 0 and piped.stderr == ""
    assert piped.stdout.splitlines() == ["current version: 2", "keys re-wrapped: 3",
                                         "refs recomputed: 3"]


def test_a_version_deleted_while_in_use_is_a_one_line_refusal(tmp_path):
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("WALLETAUTH_")}
    env["WALLETAUTH_DATA_DIR"] = str(tmp_path / "data")
    signed_in(env, 2)
    assert cli(env, "add").returncode == 0
    (tmp_path / "data" / "secrets" / "v1.json").unlink()  # by hand, before re-wrapping
    assert cli(env, "list").stdout.splitlines() == ["v1  keys 2  refs 2  missing",
                                                    "v2  keys 0  refs 0  current"]
    result = cli(env, "rewrap")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "unknown_key_version" in result.stderr and "Traceback" not in result.stderr
