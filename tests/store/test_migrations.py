"""Schema: Alembic upgrades an empty database to head, and the models match the migrations."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from walletauth.store import StoreError, migrate
from walletauth.store.engines import create_engine, default_keystore_url
from walletauth.store.migrate import schema_differences


def test_migrate_brings_an_empty_database_to_head_and_models_match(backend):
    migrate(backend.url, backend.keystore_url)
    migrate(backend.url, backend.keystore_url)  # again: nothing to do, nothing breaks

    records = create_engine(backend.url)
    keys = create_engine(backend.keystore_url or default_keystore_url(backend.url))
    try:
        assert schema_differences(records, "records") == []
        assert schema_differences(keys, "keystore") == []
        tables = set(sa.inspect(records).get_table_names())
        assert {"subjects", "records", "consent_events", "audit_log", "nonces", "sessions",
                "rate_counters", "alembic_version"} <= tables
        assert "keystore_subject_keys" in set(sa.inspect(keys).get_table_names())
    finally:
        records.dispose()
        keys.dispose()


def test_opening_the_store_migrates_it(store):
    assert schema_differences(store.engine, "records") == []
    assert schema_differences(store.keys.engine, "keystore") == []


def test_sqlite_keeps_the_keys_in_a_file_beside_the_data_file(tmp_path):
    url = f"sqlite:///{tmp_path}/data/walletauth.db"

    migrate(url)

    assert sorted(p.name for p in (tmp_path / "data").glob("*.db")) == [
        "walletauth.db", "walletauth.keys.db",
    ]
    assert default_keystore_url("postgresql+psycopg://db/walletauth") == (
        "postgresql+psycopg://db/walletauth"
    )


def test_sqlite_is_set_up_for_safe_concurrent_use(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/walletauth.db")
    try:
        with engine.connect() as connection:
            pragma = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                      for name in ("journal_mode", "secure_delete", "foreign_keys", "busy_timeout")}
    finally:
        engine.dispose()

    assert pragma["journal_mode"] == "wal"
    assert pragma["secure_delete"] == 1 and pragma["foreign_keys"] == 1
    assert pragma["busy_timeout"] >= 1000


@pytest.mark.parametrize("url", ["mysql://localhost/walletauth", "not a url"])
def test_an_unsupported_database_is_refused_with_a_clear_code(url):
    with pytest.raises(StoreError) as refused:
        migrate(url)

    assert refused.value.code == "unsupported_database"
