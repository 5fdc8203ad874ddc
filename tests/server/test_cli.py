"""The walletauth command: migrate, purge, keys rotate|list (serve runs in test_multiworker)."""

import pytest
from typer.testing import CliRunner

from walletauth.cli import app


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("WALLETAUTH_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def invoke(*arguments):
        result = runner.invoke(app, list(arguments))
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_migrate_creates_the_sqlite_database_in_the_data_dir(run, tmp_path):
    assert "up to date" in run("migrate")
    assert (tmp_path / "data" / "walletauth.sqlite3").exists()


def test_keys_rotate_adds_a_signing_key_and_keeps_the_old_one_listed(run):
    first = run("keys", "list").split()[0]
    new = run("keys", "rotate").split()[-1]
    listing = run("keys", "list").splitlines()
    assert listing[0].startswith(new) and listing[0].endswith("signing")
    assert listing[1].startswith(first) and "published until" in listing[1]


def test_purge_prints_what_it_removed(run):
    output = run("purge")
    assert {"nonces:", "sessions:", "rate_counters:", "subjects:"} <= set(output.split())
