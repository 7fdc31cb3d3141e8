"""social_accounts.server_url: the server of accounts that choose one (a Bluesky PDS)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("social_accounts") as batch:
        batch.add_column(sa.Column("server_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("social_accounts") as batch:
        batch.drop_column("server_url")
