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


def test_with_oidc_clients_keys_rotate_and_list_cover_the_rs256_ring_too(run, monkeypatch):
    import json

    clients = {"wiki": {"name": "Wiki", "public": True,
                        "redirect_uris": ["https://wiki.example/cb"]}}
    monkeypatch.setenv("WALLETAUTH_OIDC_CLIENTS", json.dumps(clients))
    before = [line.split() for line in run("keys", "list").splitlines()]
    assert [(kid_alg[1], kid_alg[-1]) for kid_alg in before] == [("ES256", "signing"),
                                                                ("RS256", "signing")]

    rotated = run("keys", "rotate").splitlines()

    assert [line.split()[1] for line in rotated] == ["ES256", "RS256"]
    listing = [line.split() for line in run("keys", "list").splitlines()]
    new_rs256, old_rs256 = (line for line in listing if line[1] == "RS256")
    assert new_rs256[0] == rotated[1].split()[-1] and new_rs256[-1] == "signing"
    assert old_rs256[0] == before[1][0] and "published" in old_rs256


def test_purge_prints_what_it_removed(run):
    output = run("purge")
    kinds = [line.split(":")[0] for line in output.splitlines()]
    assert kinds == ["records", "subjects", "nonces", "sessions", "orphan_keys",
                     "requests_interrupted", "requests_removed", "notices_abandoned",
                     "provisions"]


def test_purge_keeps_the_requests_log_as_long_as_the_operator_says(run, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from walletauth.policy.loader import load_policy
    from walletauth.server.config.settings import Settings
    from walletauth.server.runtime import open_store, prepare_data_dir
    from walletauth.store import Secrets
    from walletauth.store.requests_log import finish_request, open_request

    settings = Settings()
    prepare_data_dir(settings)
    store = open_store(settings, load_policy(settings.policy),
                       Secrets.load_or_create(settings.data_dir / "secrets"))
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    address = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    finish_request(store, open_request(store, address, "export", now=two_days_ago),
                   "completed", now=two_days_ago)
    open_request(store, address, "erase", now=two_days_ago)  # its process died
    store.close()

    by_default = run("purge").splitlines()
    monkeypatch.setenv("WALLETAUTH_REQUESTS_LOG_RETENTION", "P1D")
    one_day = run("purge").splitlines()

    assert {"requests_interrupted: 1", "requests_removed: 0"} <= set(by_default)
    assert {"requests_interrupted: 0", "requests_removed: 1"} <= set(one_day)
