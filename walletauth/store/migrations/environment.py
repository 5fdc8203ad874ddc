"""The body both ``env.py`` files run: online migrations on a connection we hand in."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from alembic import context


def own_tables_only(metadata: sa.MetaData) -> Any:
    """An ``include_name`` hook that ignores the other schema's tables in a shared database."""

    def include_name(
        name: str | None, type_: Literal["schema", "table", "column", "index",
                                          "unique_constraint", "foreign_key_constraint"],
        _parent_names: Any,
    ) -> bool:
        return type_ != "table" or name in metadata.tables

    return include_name


def run_migrations(metadata: sa.MetaData, version_table: str) -> None:
    connection: sa.Connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        include_name=own_tables_only(metadata),
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
