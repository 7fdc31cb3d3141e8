"""posting schedules, post series, queued and series posts, paused queues

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from herald.models import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_schedules",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("slots", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["social_accounts.id"],
                                name=op.f("fk_account_schedules_account_id_social_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_schedules")),
    )
    op.create_table(
        "post_series",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("company_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=False),
        sa.Column("post_type", sa.String(length=20), nullable=False),
        sa.Column("caption", sa.Text(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("starts_at", UTCDateTime(), nullable=True),
        sa.Column("expanded_until", UTCDateTime(), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"],
                                name=op.f("fk_post_series_company_id_companies"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_series")),
    )
    op.create_index("ix_post_series_company_kind", "post_series", ["company_id", "kind"])
    with op.batch_alter_table("social_accounts") as batch:
        batch.add_column(sa.Column("queue_paused_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("queue_slot", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("series_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("occurrence_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("detached", sa.Boolean(), server_default="0",
                                   nullable=False))
        batch.create_foreign_key(op.f("fk_posts_series_id_post_series"), "post_series",
                                 ["series_id"], ["id"], ondelete="SET NULL")
        batch.create_unique_constraint(
            op.f("uq_posts_account_id_queue_slot_post_type"),
            ["account_id", "queue_slot", "post_type"])
        batch.create_unique_constraint(
            op.f("uq_posts_series_id_occurrence_at_account_id_post_type"),
            ["series_id", "occurrence_at", "account_id", "post_type"])


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_constraint(op.f("uq_posts_series_id_occurrence_at_account_id_post_type"),
                              type_="unique")
        batch.drop_constraint(op.f("uq_posts_account_id_queue_slot_post_type"), type_="unique")
        batch.drop_constraint(op.f("fk_posts_series_id_post_series"), type_="foreignkey")
        for column in ("detached", "occurrence_at", "series_id", "queue_slot", "origin"):
            batch.drop_column(column)
    with op.batch_alter_table("social_accounts") as batch:
        batch.drop_column("queue_paused_at")
    op.drop_index("ix_post_series_company_kind", table_name="post_series")
    op.drop_table("post_series")
    op.drop_table("account_schedules")
