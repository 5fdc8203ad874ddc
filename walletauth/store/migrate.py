"""Bring the records database and the key store to the newest schema (Alembic, in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

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


def migrate(url: str, keystore_url: str | None = None) -> None:
    """Upgrade both schemas to head (``walletauth migrate``); safe to run again."""
    targets: list[tuple[Schema, str]] = [
        ("records", url),
        ("keystore", keystore_url or default_keystore_url(url)),
    ]
    for schema, target in targets:
        engine = create_engine(target)
        try:
            upgrade_engine(engine, schema)
        finally:
            engine.dispose()


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
