"""Indexes that keep lists, pages and counts flat as the calendar grows (issue 18)

- posts (company_id, account_id, created_at, id): the posts list by account reads its
  first page from the index instead of sorting all the account's posts (the list always
  filters by company too; with both in the index the plan does not hang on estimates).
  It replaces the index on account_id alone: the unique (account_id, queue_slot,
  post_type) starts with account_id and serves the foreign key.
- posts (company_id, status, updated_at, id): the dashboard's "needs attention" (failed
  and unconfirmed, latest first) and its counts by status, read from the index.
- posts (status, updated_at): `herald status`'s results of the day, instead of a scan of
  every post.
- posts (company_id, scheduled_at) gains id: the calendar ranks a month's posts from the
  index alone.
- posts (company_id, coalesce(scheduled_at, created_at), id), PostgreSQL and SQLite: the
  list in its "time" order (the web UI's default) reads its page from the index instead of
  sorting all the company's posts. MariaDB has no index on an expression (it would take a
  generated column); there the order still sorts.

Revision ID: 0021
Revises: 0016
Create Date: 2026-12-04 20:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.create_index("ix_posts_company_account_created",
                           ["company_id", "account_id", "created_at", "id"])
        batch.drop_index("ix_posts_account_id")
        batch.create_index("ix_posts_company_status_updated",
                           ["company_id", "status", "updated_at", "id"])
        batch.create_index("ix_posts_status_updated", ["status", "updated_at"])
        batch.drop_index("ix_posts_company_scheduled")
        batch.create_index("ix_posts_company_scheduled", ["company_id", "scheduled_at", "id"])
    if op.get_bind().dialect.name != "mysql":
        # The expression as post_list's "time" order writes it, so the planner matches it.
        op.create_index("ix_posts_company_sort_time", "posts",
                        ["company_id", sa.text("coalesce(scheduled_at, created_at)"), "id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "mysql":
        op.drop_index("ix_posts_company_sort_time", table_name="posts")
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_company_scheduled")
        batch.create_index("ix_posts_company_scheduled", ["company_id", "scheduled_at"])
        batch.drop_index("ix_posts_status_updated")
        batch.drop_index("ix_posts_company_status_updated")
        batch.create_index("ix_posts_account_id", ["account_id"])
        batch.drop_index("ix_posts_company_account_created")
