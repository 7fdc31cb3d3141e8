"""The seed's monitoring queries, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from herald.queue import counts
from herald.queue.tables import posts, schedule
from herald.statuses import PostStatus, QueueStatus


@dataclass(frozen=True)
class Depth:
    """How many posts wait, and how many are in flight."""

    due: int
    by_status: dict[str, int]
    expired_leases: int


def depth(conn: Connection, *, now: datetime) -> Depth:
    """Due now, pending and processing, leases run out (for /metrics and `herald status`).

    Pending and processing are the kept counts; due and run-out leases are range scans of
    the (status, …) indexes, bounded by what is due or in flight.
    """
    due = conn.execute(
        select(func.count()).where(schedule.c.status == QueueStatus.PENDING,
                                   schedule.c.run_at <= now)
    ).scalar_one()
    # Kept counts (herald/queue/counts.py): a COUNT of the pending rows read every row of
    # the queue, a year of future posts included (101-381 ms at 1M posts).
    kept = counts.queue_by_status(conn)
    by_status = {str(s): kept.get(s, 0) for s in (QueueStatus.PENDING, QueueStatus.PROCESSING)}
    expired = conn.execute(
        select(func.count()).where(schedule.c.status == QueueStatus.PROCESSING,
                                   schedule.c.lease_expires_at < now)
    ).scalar_one()
    return Depth(due=due, by_status=by_status, expired_leases=expired)


def stats(conn: Connection, *, now: datetime, since: datetime) -> dict[str, Any]:
    """Queue depth, leases in flight and run out, and today's results."""
    queue = depth(conn, now=now)
    due, by_status, expired = queue.due, queue.by_status, queue.expired_leases
    per_worker: dict[str, int] = dict(conn.execute(
        select(schedule.c.worker_id, func.count())
        .where(schedule.c.status == QueueStatus.PROCESSING)
        .group_by(schedule.c.worker_id)
    ).all())
    today: dict[str, int] = dict(conn.execute(
        select(posts.c.status, func.count())
        .where(posts.c.updated_at >= since,
               posts.c.status.in_((PostStatus.PUBLISHED, PostStatus.FAILED,
                                   PostStatus.UNCONFIRMED)))
        .group_by(posts.c.status)
    ).all())
    finished = sum(today.values())
    return {
        "due_now": due,
        "pending": by_status.get(QueueStatus.PENDING, 0),
        "processing": by_status.get(QueueStatus.PROCESSING, 0),
        #: Posts of accounts whose queue is paused.
        "held": by_status.get(QueueStatus.HELD, 0),
        "expired_leases": expired,
        "published_today": today.get(PostStatus.PUBLISHED, 0),
        "failed_today": today.get(PostStatus.FAILED, 0),
        "unconfirmed_today": today.get(PostStatus.UNCONFIRMED, 0),
        "success_rate_today": (today.get(PostStatus.PUBLISHED, 0) / finished) if finished else None,
        "processing_per_worker": per_worker,
    }
