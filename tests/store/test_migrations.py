"""Schema: Alembic upgrades an empty database to head, and the models match the migrations."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event

from tests.store.conftest import NOW
from walletauth.store import Store, StoreError, migrate
from walletauth.store.engines import READ_ONLY, create_engine, default_keystore_url
from walletauth.store.migrate import alembic_config, schema_differences
from walletauth.store.rights_schema import rights_requests
from walletauth.store.schema import nonces, oidc_clients, sessions, subjects


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
                "alembic_version"} <= tables
        assert "rate_counters" not in tables  # dropped by 0003
        assert "keystore_subject_keys" in set(sa.inspect(keys).get_table_names())
    finally:
        records.dispose()
        keys.dispose()


def _move_records_schema(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    with engine.connect() as connection:
        config = alembic_config("records", connection)
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)
        connection.commit()


def _table_shapes(engine: sa.Engine) -> dict[str, dict[str, object]]:
    """Every table's columns, keys and indexes as the database itself reports them."""
    inspector = sa.inspect(engine)
    return {
        table: {
            "columns": [(c["name"], str(c["type"]), c["nullable"])
                        for c in inspector.get_columns(table)],
            "primary_key": inspector.get_pk_constraint(table),
            "foreign_keys": inspector.get_foreign_keys(table),
            "unique": sorted(inspector.get_unique_constraints(table), key=lambda u: u["name"]),
            "indexes": sorted(inspector.get_indexes(table), key=lambda i: i["name"]),
        }
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


def _table_rows(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    reflected = sa.MetaData()
    reflected.reflect(engine)
    with engine.connect() as connection:
        return {name: sorted(map(tuple, connection.execute(sa.select(table))), key=repr)
                for name, table in reflected.tables.items() if name != "alembic_version"}


def _fill_at_0002(engine: sa.Engine) -> None:
    """Rows in rate_counters (as servers before 0003 wrote them) and in tables that stay."""
    counters = sa.Table("rate_counters", sa.MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        subject_id = connection.execute(sa.insert(subjects).values(
            ref="r" * 80, key_id="k" * 32, address_sealed=b"sealed", created_at=NOW,
            retained_until=NOW + timedelta(days=365),
        ).returning(subjects.c.id)).scalar_one()
        connection.execute(sa.insert(sessions).values(
            id_hash="s" * 64, subject_id=subject_id, expires_at=NOW + timedelta(days=1)))
        connection.execute(sa.insert(nonces).values(
            nonce="a-used-nonce", expires_at=NOW + timedelta(minutes=5)))
        connection.execute(sa.insert(rights_requests).values(
            id="q" * 40, subject_ref="r" * 80, kind="export", status="completed",
            received_at=NOW, completed_at=NOW, detail={}))
        connection.execute(sa.insert(counters), [
            {"key_hash": f"{n}" * 64, "window_start": NOW, "hits": n + 1,
             "expires_at": NOW + timedelta(seconds=60)}
            for n in range(3)
        ])


def test_upgrading_from_0002_drops_rate_counters_and_keeps_everything_else(backend):
    engine = create_engine(backend.url)
    try:
        _move_records_schema(engine, "0002_rights")
        _fill_at_0002(engine)
        shapes_before, rows_before = _table_shapes(engine), _table_rows(engine)
        assert len(rows_before["rate_counters"]) == 3

        _move_records_schema(engine, "0003_drop_rate_counters")

        del shapes_before["rate_counters"], rows_before["rate_counters"]
        assert _table_shapes(engine) == shapes_before
        assert _table_rows(engine) == rows_before
        _move_records_schema(engine, "head")
    finally:
        engine.dispose()


def test_upgrading_from_0005_makes_every_session_a_family_of_one_and_keeps_the_rest(backend):
    engine = create_engine(backend.url)
    try:
        _move_records_schema(engine, "0002_rights")
        _fill_at_0002(engine)
        _move_records_schema(engine, "0005_provision_withholding")
        shapes_before, rows_before = _table_shapes(engine), _table_rows(engine)

        _move_records_schema(engine, "0006_session_families")

        shapes_after, rows_after = _table_shapes(engine), _table_rows(engine)
        session_columns = [column[0] for column in shapes_after["sessions"]["columns"]]
        assert session_columns == ["id_hash", "subject_id", "expires_at", "family_hash",
                                   "rotated_at"]
        assert [row[3:] for row in rows_after["sessions"]] == [(None, None)]
        assert [row[:3] for row in rows_after["sessions"]] == rows_before["sessions"]
        del shapes_before["sessions"], shapes_after["sessions"]
        del rows_before["sessions"], rows_after["sessions"]
        assert (shapes_after, rows_after) == (shapes_before, rows_before)
    finally:
        engine.dispose()


def test_downgrading_to_0005_drops_the_families_and_their_rotated_sessions(backend):
    engine = create_engine(backend.url)
    try:
        _move_records_schema(engine, "0002_rights")
        _fill_at_0002(engine)
        _move_records_schema(engine, "0005_provision_withholding")
        shapes_at_0005, rows_at_0005 = _table_shapes(engine), _table_rows(engine)
        _move_records_schema(engine, "0006_session_families")
        with engine.begin() as connection:  # a refresh: the old session rotated, a new one
            connection.execute(sa.update(sessions).values(rotated_at=NOW))
            connection.execute(sa.insert(sessions).values(
                id_hash="t" * 64, subject_id=rows_at_0005["sessions"][0][1],
                expires_at=NOW + timedelta(days=1), family_hash="s" * 64))

        _move_records_schema(engine, "0005_provision_withholding", down=True)

        assert _table_shapes(engine) == shapes_at_0005
        rows = _table_rows(engine)
        # The rotated session goes (it would be live again); its successor stays.
        assert [row[0] for row in rows["sessions"]] == ["t" * 64]
        del rows["sessions"], rows_at_0005["sessions"]
        assert rows == rows_at_0005
    finally:
        engine.dispose()


def test_0008_adds_an_empty_oidc_grants_table_and_its_downgrade_drops_it(backend):
    engine = create_engine(backend.url)
    try:
        _move_records_schema(engine, "0002_rights")
        _fill_at_0002(engine)
        _move_records_schema(engine, "0007_oidc_clients")
        shapes_at_0007, rows_at_0007 = _table_shapes(engine), _table_rows(engine)

        _move_records_schema(engine, "head")

        shapes, rows = _table_shapes(engine), _table_rows(engine)
        assert rows.pop("oidc_grants") == []
        assert [c[0] for c in shapes.pop("oidc_grants")["columns"]] == [
            "id", "subject_id", "client_id", "session_hash", "purposes", "notify", "sealed",
            "secrets_version", "expires_at"]
        assert (shapes, rows) == (shapes_at_0007, rows_at_0007)
        assert schema_differences(engine, "records") == []
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO oidc_grants (id, subject_id, client_id, session_hash, purposes,"
                " notify, sealed, secrets_version, expires_at) VALUES ('g', :subject, 'wiki',"
                " :hash, '[]', false, :sealed, 1, :at)"),
                {"subject": rows_at_0007["sessions"][0][1], "hash": "h" * 64,
                 "sealed": b"x", "at": NOW})

        _move_records_schema(engine, "0007_oidc_clients", down=True)

        assert (_table_shapes(engine), _table_rows(engine)) == (shapes_at_0007, rows_at_0007)
    finally:
        engine.dispose()


def test_downgrading_to_0002_brings_rate_counters_back_empty_as_0001_made_it(backend):
    engine = create_engine(backend.url)
    try:
        _move_records_schema(engine, "0002_rights")
        shapes_at_0002 = _table_shapes(engine)
        _move_records_schema(engine, "0003_drop_rate_counters")
        assert "rate_counters" not in _table_shapes(engine)

        _move_records_schema(engine, "0002_rights", down=True)

        assert _table_shapes(engine) == shapes_at_0002
        assert _table_rows(engine)["rate_counters"] == []
    finally:
        engine.dispose()


def test_0005_adds_withheld_to_provision_records_and_keeps_them(backend):
    engine = create_engine(backend.url)
    try:
        _move_records_schema(engine, "0004_policy_versions")
        provisions = sa.Table("third_party_provisions", sa.MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            subject_id = connection.execute(sa.insert(subjects).values(
                ref="r" * 80, key_id="k" * 32, address_sealed=b"sealed", created_at=NOW,
                retained_until=NOW).returning(subjects.c.id)).scalar_one()
            connection.execute(sa.insert(provisions).values(
                subject_id=subject_id, recipient="Court", categories=["contact_email"],
                ground="required_by_law", provided_at=NOW, policy_version="1.0"))
        shapes_at_0004, rows_at_0004 = _table_shapes(engine), _table_rows(engine)

        _move_records_schema(engine, "0005_provision_withholding")
        [row] = _table_rows(engine)["third_party_provisions"]
        _move_records_schema(engine, "0004_policy_versions", down=True)

        assert row[-1] is None  # withheld: an existing record was never withheld
        assert _table_shapes(engine) == shapes_at_0004
        assert _table_rows(engine) == rows_at_0004
    finally:
        engine.dispose()


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


def _pragmas(connection: sa.Connection) -> dict[str, object]:
    return {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "secure_delete", "foreign_keys", "busy_timeout")}


def _as_if_sqlite_were_built_without_secure_delete(engine: sa.Engine) -> None:
    """Debian builds SQLite with SECURE_DELETE on by default; others do not. Turn it off
    first on every new connection, so only the store's own setting can turn it on."""

    def off(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.execute("PRAGMA secure_delete = OFF")

    event.listen(engine, "connect", off, insert=True)
    engine.dispose()  # connections made from now on pass through ``off`` first


def test_sqlite_is_set_up_for_safe_concurrent_use(tmp_path, secrets, abcrecords):
    store = Store.open(f"sqlite:///{tmp_path}/walletauth.db", policy=abcrecords, secrets=secrets)
    try:
        for engine in (store.engine, store.keys.engine):
            _as_if_sqlite_were_built_without_secure_delete(engine)
        # Both databases of the store, on two connections each: secure_delete, foreign
        # keys and the busy timeout are per connection, so every pooled one must set them.
        found = []
        for engine in (store.engine, store.keys.engine):
            reader = engine.execution_options(**READ_ONLY)  # two writers would queue
            with reader.connect() as first, reader.connect() as second:
                found += [_pragmas(first), _pragmas(second)]
    finally:
        store.close()

    for pragma in found:
        assert pragma["journal_mode"] == "wal"
        assert pragma["secure_delete"] == 1 and pragma["foreign_keys"] == 1
        assert pragma["busy_timeout"] >= 1000
    # WAL is a property of the file itself: a plain connection sees it too.
    for name in ("walletauth.db", "walletauth.keys.db"):
        with sqlite3.connect(tmp_path / name) as plain:
            assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("url", ["mysql://localhost/walletauth", "not a url"])
def test_an_unsupported_database_is_refused_with_a_clear_code(url):
    with pytest.raises(StoreError) as refused:
        migrate(url)

    assert refused.value.code == "unsupported_database"


def test_sqlite_files_are_private_to_the_service_whatever_the_umask(tmp_path, secrets, abcrecords):
    previous = os.umask(0o022)  # a common default: new files readable by everyone
    try:
        url = f"sqlite:///{tmp_path}/fresh/walletauth.db"
        store = Store.open(url, policy=abcrecords, secrets=secrets)
        store.record_login("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 1, now=NOW)
        try:
            files = sorted((tmp_path / "fresh").iterdir())
            modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}
        finally:
            store.close()
    finally:
        os.umask(previous)

    assert {"walletauth.db", "walletauth.db-wal", "walletauth.keys.db"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o600)
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700


def test_0004_keeps_every_consent_event_without_a_digest_and_goes_back(backend):
    engine = create_engine(backend.url)
    try:
        _move_records_schema(engine, "0002_rights")
        _fill_at_0002(engine)
        _move_records_schema(engine, "0003_drop_rate_counters")
        events_at_0003 = sa.Table("consent_events", sa.MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            subject_id = connection.execute(sa.text("SELECT min(id) FROM subjects")).scalar()
            connection.execute(sa.insert(events_at_0003).values(
                subject_id=subject_id, kind="consent", purpose="quality_marketing",
                value=True, at=NOW, policy_version="1.0"))
        shapes_at_0003, rows_at_0003 = _table_shapes(engine), _table_rows(engine)

        _move_records_schema(engine, "0004_policy_versions")

        rows = _table_rows(engine)
        assert rows["policy_announcements"] == []
        events = rows["consent_events"]
        assert events and all(event[-1] is None for event in events)
        assert [event[:-1] for event in events] == rows_at_0003["consent_events"]

        _move_records_schema(engine, "0003_drop_rate_counters", down=True)
        assert _table_shapes(engine) == shapes_at_0003
        assert _table_rows(engine) == rows_at_0003
    finally:
        engine.dispose()


def test_0007_adds_oidc_clients_and_its_downgrade_drops_them_keeping_the_rest(backend):
    engine = create_engine(backend.url)
    try:
        _move_records_schema(engine, "0002_rights")
        _fill_at_0002(engine)
        _move_records_schema(engine, "0006_session_families")
        shapes_at_0006, rows_at_0006 = _table_shapes(engine), _table_rows(engine)

        _move_records_schema(engine, "0007_oidc_clients")

        assert _table_rows(engine)["oidc_clients"] == []
        shapes = _table_shapes(engine)
        assert [column[0] for column in shapes["oidc_clients"]["columns"]] == [
            "client_id", "metadata", "secret_sha256", "issued_at"]
        assert shapes["oidc_clients"]["primary_key"]["constrained_columns"] == ["client_id"]
        with engine.begin() as connection:
            connection.execute(sa.insert(oidc_clients).values(
                client_id="_c", metadata={"client_name": "x"}, secret_sha256=None,
                issued_at=NOW))

        _move_records_schema(engine, "0006_session_families", down=True)

        assert _table_shapes(engine) == shapes_at_0006
        assert _table_rows(engine) == rows_at_0006
        _move_records_schema(engine, "head")
        assert schema_differences(engine, "records") == []
    finally:
        engine.dispose()


def _sign_in_functions(engine: sa.Engine) -> list[str]:
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as connection:
        return sorted(connection.execute(sa.text(
            "SELECT proname FROM pg_proc WHERE proname LIKE 'walletauth_sign_in_state%'"
        )).scalars())


def test_0009_adds_the_sign_in_state_functions_on_postgresql_and_its_downgrade_drops_them(
    backend,
):
    engine = create_engine(backend.url)
    try:
        _move_records_schema(engine, "0002_rights")
        _fill_at_0002(engine)
        _move_records_schema(engine, "0008_oidc_grants")
        tables_at_0008 = (_table_shapes(engine), _table_rows(engine))
        assert _sign_in_functions(engine) == []

        _move_records_schema(engine, "0009_sign_in_state")

        expected = ["walletauth_sign_in_state", "walletauth_sign_in_state_with_key"]
        assert _sign_in_functions(engine) == (expected if backend.name == "postgres" else [])
        assert (_table_shapes(engine), _table_rows(engine)) == tables_at_0008
        if backend.name == "postgres":  # callable: a subject with no events, one empty row
            subject = tables_at_0008[1]["sessions"][0][1]
            with engine.connect() as connection:
                rows = connection.execute(sa.text(
                    "SELECT kind, record_id FROM walletauth_sign_in_state(:s, 'a', 'b')"
                ), {"s": subject}).all()
            assert rows == [(None, None)]

        _move_records_schema(engine, "0008_oidc_grants", down=True)

        assert _sign_in_functions(engine) == []
        assert (_table_shapes(engine), _table_rows(engine)) == tables_at_0008
    finally:
        engine.dispose()
