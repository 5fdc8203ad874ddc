"""PostgreSQL: the functions the sign-in's one lookup reads its subject's state through
(:mod:`walletauth.store.login_sql`): the consent events, the first record of a category
and purpose and, when the key store shares the database, the subject's key row.

Why functions: the lookup locks the subject's row and reads that state in one statement.
A statement reads what was committed when it began, and when it waited for the lock only
the locked row is read again, so state read by the locking statement itself misses a
withdrawal that held the lock and committed meanwhile. A ``VOLATILE`` function takes a
fresh snapshot for each statement in it: called for a subject after the lock on it was
granted (a ``MATERIALIZED`` CTE locks, the function is joined to it), it reads the state
as committed then, in the lookup's one round trip. ``plpgsql`` keeps each function's plan
for the session. The ``_with_key`` variant names the key store's table, which exists only
where the key store shares the database; it is only called there (``plpgsql`` resolves
tables when it runs, not when it is created). SQLite: nothing (``BEGIN IMMEDIATE``
serialises writers). The downgrade drops both.

Revision ID: 0009_sign_in_state
Revises: 0008_oidc_grants
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0009_sign_in_state"
down_revision = "0008_oidc_grants"
branch_labels = None
depends_on = None

_COLUMNS = (
    "kind text, purpose text, value boolean, at timestamptz, policy_version text,"
    " text_digest text, record_id bigint, record_data bytea"
)
_BODY = (
    " SELECT e.kind::text, e.purpose::text, e.value, e.at, e.policy_version::text,"
    " e.text_digest::text, r.id, r.data{key_columns}"
    " FROM (SELECT 1) AS one"
    " LEFT OUTER JOIN consent_events AS e ON e.subject_id = wanted_subject"
    " LEFT OUTER JOIN LATERAL (SELECT records.id, records.data FROM records"
    " WHERE records.subject_id = wanted_subject AND records.category = wanted_category"
    " AND records.purpose = wanted_purpose ORDER BY records.id LIMIT 1) AS r ON true"
    "{key_join} ORDER BY e.id"
)


def _function(name: str, *, with_key: bool) -> str:
    key_argument = " wanted_key text," if with_key else ""
    body = _BODY.format(
        key_columns=", k.master_version, k.wrapped" if with_key else "",
        key_join=(
            " LEFT OUTER JOIN keystore_subject_keys AS k ON k.key_id = wanted_key"
            if with_key
            else ""
        ),
    )
    returns = _COLUMNS + (", master_version integer, wrapped bytea" if with_key else "")
    return (
        f"CREATE FUNCTION {name}(wanted_subject bigint,{key_argument} wanted_category text,"
        f" wanted_purpose text) RETURNS TABLE ({returns}) LANGUAGE plpgsql VOLATILE AS $$"
        f" BEGIN RETURN QUERY{body}; END $$"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_function("walletauth_sign_in_state", with_key=False))
    op.execute(_function("walletauth_sign_in_state_with_key", with_key=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION walletauth_sign_in_state_with_key(bigint, text, text, text)")
    op.execute("DROP FUNCTION walletauth_sign_in_state(bigint, text, text)")
