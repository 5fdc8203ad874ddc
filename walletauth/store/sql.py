"""Small SQL helpers that differ per dialect."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def upsert(connection: sa.Connection, table: sa.Table) -> Any:
    """The dialect's ``INSERT`` that supports ``ON CONFLICT`` (both speak the same clause)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def later_of(column: sa.ColumnElement[Any], value: Any) -> sa.ColumnElement[Any]:
    """``max(column, value)`` in SQL that both SQLite and PostgreSQL understand."""
    bound = sa.literal(value, type_=column.type)
    return sa.case((column < bound, bound), else_=column)
