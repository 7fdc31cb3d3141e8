"""Holding an account's posts while its queue is paused, and letting them go again.

A held row is `held`, not `pending`: the claim's index scan never sees it, so a paused
account costs the workers nothing. The post itself stays `pending` (its status is
contract; "paused" is the account's state, shown on the account and its queue).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, select, update

from herald.queue.dialects import dialect_for
from herald.queue.tables import posts, schedule
from herald.statuses import QueueStatus

PENDING, HELD = QueueStatus.PENDING, QueueStatus.HELD


def _of_account(account_id: str) -> ColumnElement[bool]:
    return schedule.c.post_id.in_(select(posts.c.id).where(posts.c.account_id == account_id))


def hold_account(conn: Connection, *, account_id: str, now: datetime) -> int:
    """Hold every pending post of the account; returns how many."""
    return conn.execute(
        update(schedule).where(schedule.c.status == PENDING, _of_account(account_id))
        .values(status=HELD, updated_at=now)
    ).rowcount


def release_account(conn: Connection, *, account_id: str, now: datetime) -> int:
    """Put the account's held posts back in the queue; returns how many."""
    released = conn.execute(
        update(schedule).where(schedule.c.status == HELD, _of_account(account_id))
        .values(status=PENDING, updated_at=now)
    ).rowcount
    if released:
        dialect_for(conn.dialect.name).notify(conn)
    return released


def held_run_at(conn: Connection, post_ids: Sequence[str]) -> dict[str, datetime]:
    """The run_at of each of these posts that is held."""
    return {r.post_id: r.run_at for r in conn.execute(
        select(schedule.c.post_id, schedule.c.run_at)
        .where(schedule.c.status == HELD, schedule.c.post_id.in_(list(post_ids))))}
