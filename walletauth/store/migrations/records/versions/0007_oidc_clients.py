"""OpenID Connect clients registered over RFC 7591 (``POST /oauth/register``).

One row per client: its id, the metadata it was registered with (JSON, as answered),
the SHA-256 of its secret (none for a public client) and when it was registered. No
personal data: the ``contacts`` metadata is not kept. The downgrade drops the table, so
the clients registered since are gone (configured ones never were in it).

Revision ID: 0007_oidc_clients
Revises: 0006_session_families
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_oidc_clients"
down_revision = "0006_session_families"
branch_labels = None
depends_on = None

# Frozen copies of the model's types: a migration must not change when the model does.
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oidc_clients",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=True),
        sa.Column("issued_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_oidc_clients"),
    )


def downgrade() -> None:
    op.drop_table("oidc_clients")
