"""post comments, several approval steps, audit retention, mentions in notification prefs

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 20:20:00.000000

Nullable columns with no default: a company without `approval_steps` keeps its one
internal step, one without `audit_retention_days` keeps its log for good, and a post
without `approval_step` waits at its company's first step. People who chose their
notifications before mentions existed are told of mentions too (they can turn it off).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from herald.models import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MENTIONED = "thread.mentioned"


def upgrade() -> None:
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_steps", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("audit_retention_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_step", sa.String(length=20), nullable=True))
    op.create_table(
        "post_comments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("company_id", sa.String(length=36), nullable=False),
        sa.Column("post_id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("review_link_id", sa.String(length=36), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("mentions", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"],
                                name=op.f("fk_post_comments_company_id_companies"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"],
                                name=op.f("fk_post_comments_post_id_posts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_post_comments_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_comments")),
    )
    op.create_index("ix_post_comments_post_created", "post_comments",
                    ["post_id", "created_at", "id"])
    _prefs_add(MENTIONED)


def _prefs_add(event: str) -> None:
    prefs = sa.table("notification_prefs", sa.column("user_id", sa.String()),
                     sa.column("events", sa.JSON()))
    conn = op.get_bind()
    for user_id, chosen in conn.execute(sa.select(prefs.c.user_id, prefs.c.events)).all():
        if event not in (chosen or []):
            conn.execute(sa.update(prefs).where(prefs.c.user_id == user_id)
                         .values(events=[*(chosen or []), event]))


def downgrade() -> None:
    # The table, with its indexes: MariaDB refuses to drop the index on its own, since the
    # post_id foreign key needs it (1553).
    op.drop_table("post_comments")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("approval_step")
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_column("audit_retention_days")
        batch_op.drop_column("approval_steps")
