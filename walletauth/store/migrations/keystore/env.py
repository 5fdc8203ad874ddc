"""Alembic environment of the keystore schema (run through walletauth.store.migrate)."""

from walletauth.store.keyschema import keystore_metadata
from walletauth.store.migrations.environment import run_migrations

run_migrations(keystore_metadata, version_table="alembic_version_keystore")
