"""The statements that end a claim: finish (outcomes), release (shutdown) and rescue.

Every one of them is conditional on the row still being what its caller saw (held by
this worker for this attempt, or its lease still run out), so a slow worker and a
rescuer can never both finish one post. One caller each, in herald.queue.leases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, select, update

from herald import events
from herald.models import utcnow
from herald.queue import outcome_audit
from herald.queue.claims import Claim, Outcome
from herald.queue.dialects import Dialect
from herald.queue.policy import Expired, Held
from herald.queue.tables import attempts_t, posts, schedule
from herald.statuses import AttemptOutcome, PostStatus, QueueStatus

PENDING, PROCESSING = QueueStatus.PENDING, QueueStatus.PROCESSING
RUNNING = AttemptOutcome.RUNNING
#: The rescue's "now": the database's clock in the statement, or a given time (dbclock.at).
When = ColumnElement[datetime]

# --- finish -----------------------------------------------------------------------------


def held_rows(conn: Connection, dialect: Dialect, outcomes: Sequence[Outcome]
              ) -> dict[str, Held]:
    """The outcomes' queue rows still held by their worker, locked, by post id."""
    by_worker: dict[str, list[str]] = {}
    for o in outcomes:
        by_worker.setdefault(o.claim.worker_id, []).append(o.claim.post_id)
    held: dict[str, Held] = {}
    for worker_id, ids in by_worker.items():
        rows = conn.execute(
            select(schedule.c.post_id, schedule.c.attempts, schedule.c.max_attempts,
                   schedule.c.retry_deadline, posts.c.cancel_requested_at,
                   posts.c.platform, posts.c.account_id)
            .join(posts, posts.c.id == schedule.c.post_id)
            .where(dialect.among(schedule.c.post_id, ids),
                   schedule.c.status == PROCESSING,
                   schedule.c.worker_id == worker_id)
            .with_for_update()
        ).all()
        held.update({r.post_id: Held(r.attempts, r.max_attempts,
                                     r.cancel_requested_at is not None, r.retry_deadline,
                                     r.platform, r.account_id)
                     for r in rows})
    return held


def write_journal(conn: Connection, dialect: Dialect, rows: list[dict[str, Any]]) -> None:
    """Close the attempts' journal rows: outcome, error, phase and platform ids."""
    # Outcomes mostly share their values (a burst of "published"): one UPDATE per
    # distinct set of values, matched by (post, attempt), not one per row.
    # The rows' queue entries are locked and held by this claim (see held_rows), so
    # each post's one "running" attempt is this claim's: match on that, which the
    # (post_id, attempt) index serves, rather than on (post_id, attempt) pairs.
    groups: dict[str, list[str]] = {}
    values: dict[str, dict[str, Any]] = {}
    ids_by_post: dict[str, Any] = {}
    for row in rows:
        fixed = {k: v for k, v in row.items() if not k.startswith("b_")}
        ids = fixed.pop("platform_ids", None)
        key = json.dumps(fixed, sort_keys=True, default=str)
        groups.setdefault(key, []).append(row["b_post"])
        values[key] = fixed
        if ids:
            ids_by_post[row["b_post"]] = ids
    if ids_by_post:
        # Platform ids differ per post: set them while the attempt is still "running".
        dialect.bulk_update(conn, attempts_t, [
            {"b_post": pid, "platform_ids": json.dumps(ids, default=str)}
            for pid, ids in ids_by_post.items()], {"platform_ids": "json"},
            where_running=True)
    for key, post_ids in groups.items():
        conn.execute(
            update(attempts_t)
            .where(dialect.among(attempts_t.c.post_id, post_ids),
                   attempts_t.c.outcome == RUNNING)
            .values(**values[key])
        )


def write_retries(conn: Connection, dialect: Dialect, rows: list[dict[str, Any]],
                  now: datetime) -> None:
    """Put retried posts back in the queue at their run time."""
    if not rows:
        return
    dialect.bulk_update(conn, schedule, [
        dict(b_post=r["b_post"], status=PENDING, run_at=r["run_at"], worker_id=None,
             lease_expires_at=None, max_attempts=r["max_attempts"],
             retry_deadline=r["retry_deadline"], updated_at=now) for r in rows],
        {"status": "str", "run_at": "time", "worker_id": "str",
         "lease_expires_at": "time", "max_attempts": "int", "retry_deadline": "time",
         "updated_at": "time"})
    dialect.bulk_update(conn, posts, [
        dict(b_post=r["b_post"], status=PostStatus.PENDING, error_message=r["error_message"],
             attempts=r["attempts"], updated_at=now) for r in rows],
        {"status": "str", "error_message": "str", "attempts": "int",
         "updated_at": "time"})
    dialect.notify(conn)


def write_finals(conn: Connection, dialect: Dialect, rows: list[dict[str, Any]],
                 now: datetime) -> None:
    """Settle posts that are over: published, failed, unconfirmed or cancelled."""
    if not rows:
        return
    dialect.bulk_update(conn, schedule, [
        dict(b_post=r["b_post"], status=r["queue_status"], lease_expires_at=None,
             updated_at=now) for r in rows],
        {"status": "str", "lease_expires_at": "time", "updated_at": "time"})
    for kind in {r["comment"] for r in rows if r.get("comment")}:
        events.record(conn, kind, [r["b_post"] for r in rows if r.get("comment") == kind],
                      now=now)
    # A first comment retried alone: the post was published already and stays as it was.
    rows = [r for r in rows if not r.get("follow_up")]
    if not rows:
        return
    dialect.bulk_update(conn, posts, [
        dict(b_post=r["b_post"], status=r["post_status"],
             external_post_id=r["external_post_id"], permalink=r["permalink"],
             error_message=r["error_message"], attempts=r["attempts"],
             published_at=r["published_at"], updated_at=now) for r in rows],
        {"status": "str", "external_post_id": "str", "permalink": "str",
         "error_message": "str", "attempts": "int", "published_at": "time",
         "updated_at": "time"})
    # The outbox: each settled post's event commits with its status (herald.events).
    by_kind: dict[str, list[str]] = {}
    for r in rows:
        kind = events.event_for_post_status(r["post_status"])
        if kind is not None:
            by_kind.setdefault(kind, []).append(r["b_post"])
    for name, post_ids in by_kind.items():
        events.record(conn, name, post_ids, now=now)
    outcome_audit.record(conn, [
        {"post_id": r["b_post"], "status": r["post_status"],
         "external_post_id": r["external_post_id"], "permalink": r["permalink"],
         "error_message": r["error_message"]} for r in rows], now=now)


# --- release ----------------------------------------------------------------------------


def release_claim(conn: Connection, claim: Claim, *, now: datetime,
                  status: QueueStatus = PENDING) -> bool:
    """Hand back a claim never started, as if it was never made; False if not held.

    `status` held: its account's queue was paused after the post was queued.
    """
    result = conn.execute(
        update(schedule)
        .where(schedule.c.post_id == claim.post_id, schedule.c.status == PROCESSING,
               schedule.c.worker_id == claim.worker_id,
               schedule.c.attempts == claim.attempt)
        .values(status=status, worker_id=None, lease_expires_at=None,
                attempts=schedule.c.attempts - 1, updated_at=now)
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        update(posts).where(posts.c.id == claim.post_id)
        .values(status=PostStatus.PENDING, updated_at=now)
    )
    conn.execute(
        attempts_t.delete().where(attempts_t.c.post_id == claim.post_id,
                                  attempts_t.c.attempt == claim.attempt)
    )
    return True


# --- rescue -----------------------------------------------------------------------------


def expired_leases(conn: Connection, dialect: Dialect, *, now: When, limit: int
                   ) -> list[Expired]:
    """Up to `limit` leases that ran out, locked, with their running attempt's phase."""
    rows: Sequence[Row[Any]] = conn.execute(dialect.skip_locked(
        select(schedule.c.post_id, schedule.c.attempts, schedule.c.rescues)
        .where(schedule.c.status == PROCESSING, schedule.c.lease_expires_at < now)
        .limit(limit)
    )).all()
    if not rows:
        return []
    phases = dict(conn.execute(
        select(attempts_t.c.post_id, attempts_t.c.phase)
        .where(attempts_t.c.post_id.in_([r.post_id for r in rows]),
               attempts_t.c.outcome == RUNNING)
    ).all())
    return [Expired(r.post_id, r.rescues, phases.get(r.post_id)) for r in rows]


def _still_expired(now: When) -> Any:
    # Conditional on the lease still being expired: a heartbeat that landed since the
    # SELECT (SQLite has no row locks) wins over the rescue.
    return and_(schedule.c.status == PROCESSING, schedule.c.lease_expires_at < now)


def requeue_rescued(conn: Connection, post_ids: Sequence[str], *, counted: bool,
                    now: When) -> None:
    """A lost lease is not the post's fault: it goes back with its attempt back."""
    conn.execute(
        update(schedule).where(schedule.c.post_id.in_(list(post_ids)), _still_expired(now))
        .values(status=PENDING, run_at=now, worker_id=None, lease_expires_at=None,
                rescues=schedule.c.rescues + int(counted),
                max_attempts=schedule.c.max_attempts + 1, updated_at=now)
    )


def posts_back_to_pending(conn: Connection, post_ids: Sequence[str], *, now: When
                          ) -> None:
    conn.execute(
        update(posts).where(posts.c.id.in_(list(post_ids)),
                            posts.c.status == PostStatus.PROCESSING)
        .values(status=PostStatus.PENDING, updated_at=now)
    )


def give_up_rescued(conn: Connection, post_ids: Sequence[str], *, now: When) -> None:
    """Take posts whose workers kept stopping out of the queue."""
    conn.execute(
        update(schedule).where(schedule.c.post_id.in_(list(post_ids)), _still_expired(now))
        .values(status=QueueStatus.FAILED, lease_expires_at=None,
                rescues=schedule.c.rescues + 1, updated_at=now)
    )


def settle_rescued(conn: Connection, post_ids: Sequence[str], *, status: PostStatus,
                   message: str, now: When) -> None:
    # Only those still processing are settled here, and only they get an audit entry.
    settled = list(conn.execute(
        select(posts.c.id).where(posts.c.id.in_(list(post_ids)),
                                 posts.c.status == PostStatus.PROCESSING)).scalars())
    conn.execute(
        update(posts)
        .where(posts.c.id.in_(list(post_ids)), posts.c.status == PostStatus.PROCESSING)
        .values(status=status, error_message=message, updated_at=now)
    )
    # `now` may be the database's clock in SQL; the entry's time is this process's then.
    outcome_audit.record(conn, [{"post_id": pid, "status": status, "error_message": message}
                                for pid in settled],
                         now=now if isinstance(now, datetime) else utcnow())
    kind = events.event_for_post_status(status)
    if kind is not None:
        # `now` may be the database's clock in SQL; the event's time is informational.
        events.record(conn, kind, post_ids)


def expire_attempts(conn: Connection, post_ids: Sequence[str], *, now: When) -> None:
    """The rescued posts' running attempts ended with their lease."""
    conn.execute(
        update(attempts_t)
        .where(attempts_t.c.post_id.in_(list(post_ids)), attempts_t.c.outcome == RUNNING)
        .values(outcome=AttemptOutcome.LEASE_EXPIRED, finished_at=now)
    )
