"""queue notify trigger (PostgreSQL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 04:00:00.000000

On PostgreSQL a statement trigger sends the queue's NOTIFY for every insert into
post_schedule, instead of a `SELECT pg_notify(...)` that each enqueue sent itself: one
round trip fewer on the API's create, and an insert made outside Herald's services wakes
the workers too. Other engines have no LISTEN; nothing changes there.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel is herald.queue.NOTIFY_CHANNEL, spelled out: a migration must not change
# when the code does.
FUNCTION = """
CREATE FUNCTION herald_queue_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('herald_queue', '');
    RETURN NULL;
END
$$
"""
TRIGGER = """
CREATE TRIGGER post_schedule_notify AFTER INSERT ON post_schedule
FOR EACH STATEMENT EXECUTE FUNCTION herald_queue_notify()
"""


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER post_schedule_notify ON post_schedule")
    op.execute("DROP FUNCTION herald_queue_notify()")
