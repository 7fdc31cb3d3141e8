"""roles, approvals, audit log

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from herald.models import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Server defaults, so existing rows need no rewrite pass: users and tokens made before
    # roles could do everything, so they are owners; nothing required approval.
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requires_approval", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("social_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requires_approval", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=20), nullable=False,
                                      server_default="owner"))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=20), nullable=False,
                                      server_default="owner"))
        batch_op.add_column(sa.Column("account_ids", sa.JSON(), nullable=True))
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False,
                                      server_default=sa.text("0")))
        batch_op.add_column(sa.Column("approved_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("approved_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("review_note", sa.Text(), nullable=True))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("company_id", sa.String(length=36), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("post_id", sa.String(length=36), nullable=True),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"],
                                name=op.f("fk_audit_log_company_id_companies"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_company_at", "audit_log", ["company_id", "at", "id"])
    op.create_index("ix_audit_log_post_id", "audit_log", ["post_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_post_id", table_name="audit_log")
    op.drop_index("ix_audit_log_company_at", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        for column in ("review_note", "approved_at", "approved_by", "revision"):
            batch_op.drop_column(column)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("account_ids")
        batch_op.drop_column("role")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("role")
    with op.batch_alter_table("social_accounts", schema=None) as batch_op:
        batch_op.drop_column("requires_approval")
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_column("requires_approval")
