"""Alembic migrations of the store: ``records`` (the records database) and ``keystore``.

The two histories are separate because the two schemas may live in separate
databases; each keeps its own version table, and each only looks at its own tables
(in the default PostgreSQL set-up they share one database).
"""
