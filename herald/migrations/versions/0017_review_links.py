"""review_links: secret, expiring, revocable links that show posts to a client

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 20:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from herald.models import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("company_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("post_ids", sa.JSON(), nullable=True),
        sa.Column("group_id", sa.String(length=36), nullable=True),
        sa.Column("at_from", UTCDateTime(), nullable=True),
        sa.Column("at_to", UTCDateTime(), nullable=True),
        sa.Column("account_ids", sa.JSON(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], ondelete="CASCADE",
                                name=op.f("fk_review_links_company_id_companies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_review_links_token_hash")),
    )
    op.create_index("ix_review_links_company_id", "review_links", ["company_id"])


def downgrade() -> None:
    op.drop_index("ix_review_links_company_id", table_name="review_links")
    op.drop_table("review_links")
