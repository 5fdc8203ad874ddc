"""Bring the records database and the key store to the newest schema (Alembic, in-process)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from walletauth.store.engines import create_engine, default_keystore_url
from walletauth.store.keyschema import keystore_metadata
from walletauth.store.migrations.environment import own_tables_only
from walletauth.store.schema import metadata

Schema = Literal["records", "keystore"]

_MIGRATIONS = Path(__file__).parent / "migrations"
_METADATA: dict[Schema, sa.MetaData] = {"records": metadata, "keystore": keystore_metadata}
_VERSION_TABLE: dict[Schema, str] = {
    "records": "alembic_version",
    "keystore": "alembic_version_keystore",
}


def alembic_config(schema: Schema, connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS / schema))
    config.attributes["connection"] = connection
    return config


def upgrade_engine(engine: sa.Engine, schema: Schema) -> None:
    with engine.connect() as connection:
        command.upgrade(alembic_config(schema, connection), "head")
        connection.commit()


def migrate(
    url: str, keystore_url: str | None = None, *,
    on_step: Callable[[Schema, str], None] | None = None,
) -> None:
    """Upgrade both schemas to head (``walletauth migrate``); safe to run again.

    With ``on_step``, one revision at a time, each committed before ``on_step(schema,
    revision)`` is called (a progress bar's tick; :func:`pending_revisions` says how
    many there will be)."""
    for schema, target in _targets(url, keystore_url):
        engine = create_engine(target)
        try:
            if on_step is None:
                upgrade_engine(engine, schema)
                continue
            with engine.connect() as connection:
                config = alembic_config(schema, connection)
                for revision in _pending(connection, schema):
                    command.upgrade(config, revision)
                    connection.commit()
                    on_step(schema, revision)
        finally:
            engine.dispose()


def pending_revisions(url: str, keystore_url: str | None = None) -> list[tuple[Schema, str]]:
    """The revisions :func:`migrate` would apply, oldest first, per schema."""
    pending: list[tuple[Schema, str]] = []
    for schema, target in _targets(url, keystore_url):
        engine = create_engine(target)
        try:
            with engine.connect() as connection:
                pending.extend((schema, revision) for revision in _pending(connection, schema))
        finally:
            engine.dispose()
    return pending


def _targets(url: str, keystore_url: str | None) -> list[tuple[Schema, str]]:
    return [("records", url), ("keystore", keystore_url or default_keystore_url(url))]


def _pending(connection: sa.Connection, schema: Schema) -> list[str]:
    current = MigrationContext.configure(
        connection, opts={"version_table": _VERSION_TABLE[schema]}).get_current_revision()
    script = ScriptDirectory.from_config(alembic_config(schema))
    newest_first = [revision.revision
                    for revision in script.iterate_revisions("heads", current or "base")]
    return [revision for revision in reversed(newest_first) if revision != current]


def schema_differences(engine: sa.Engine, schema: Schema) -> list[Any]:
    """What differs between the migrated database and the models (empty when in step)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_name": own_tables_only(_METADATA[schema]),
                "compare_type": True,
                "version_table": _VERSION_TABLE[schema],
            },
        )
        return list(compare_metadata(context, _METADATA[schema]))
