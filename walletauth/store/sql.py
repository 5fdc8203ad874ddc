"""Small SQL helpers that differ per dialect."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def upsert(dialect: sa.Connection | str, table: sa.Table) -> Any:
    """The dialect's ``INSERT`` that supports ``ON CONFLICT`` (both speak the same clause);
    ``dialect`` is a connection or its dialect's name."""
    name = dialect if isinstance(dialect, str) else dialect.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)

