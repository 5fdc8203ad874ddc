"""The rights tables: created by migration 0002_rights, matching the models."""

from __future__ import annotations

import sqlalchemy as sa

import walletauth.store.rights_schema  # noqa: F401  (the models under comparison)
from walletauth.store.migrate import schema_differences


def test_migration_0002_creates_the_rights_tables_as_modelled(store):
    tables = set(sa.inspect(store.engine).get_table_names())

    assert {"rights_requests", "third_party_provisions", "notice_outbox"} <= tables
    assert schema_differences(store.engine, "records") == []
