"""oauth_server_apps: Herald's OAuth app on each server that registers apps itself (a
Mastodon instance's POST /api/v1/apps), so a server is registered with once

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 21:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from herald.models import UTCDateTime

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_server_apps",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("platform", sa.String(length=20), nullable=False),
        # 255: a unique index over it must fit MariaDB's 3,072-byte key in utf8mb4.
        sa.Column("server_url", sa.String(length=255), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_enc", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("platform", "server_url", name="uq_oauth_server_apps_server"),
    )


def downgrade() -> None:
    op.drop_table("oauth_server_apps")
