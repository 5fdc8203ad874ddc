"""Alembic environment of the records schema (run through walletauth.store.migrate)."""

from walletauth.store.migrations.environment import run_migrations
from walletauth.store.schema import metadata

run_migrations(metadata, version_table="alembic_version")
