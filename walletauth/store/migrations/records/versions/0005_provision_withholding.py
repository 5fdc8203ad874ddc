"""A provision's record may be withheld from the subject's disclosure on a statutory
ground (APPI Art. 33(2), (5)): ``third_party_provisions.withheld`` names it; the export
then says a record was withheld and why, without its contents.

Revision ID: 0005_provision_withholding
Revises: 0004_policy_versions
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_provision_withholding"
down_revision = "0004_policy_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("third_party_provisions",
                  sa.Column("withheld", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("third_party_provisions") as batch:
        batch.drop_column("withheld")
