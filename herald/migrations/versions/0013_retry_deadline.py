"""post_schedule.retry_deadline: a post's retry budget is a time as well as a count

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from herald.models import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: rows queued before this start their budget at their next retry.
    with op.batch_alter_table("post_schedule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_deadline", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("post_schedule", schema=None) as batch_op:
        batch_op.drop_column("retry_deadline")
