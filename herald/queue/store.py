"""Every statement that reads or writes `post_schedule`, each named, thin, and short.

The first part is what services run inside their own transaction; the rest is the SQL
of `Queue` (herald.queue.leases), which owns the transactions and asks
herald.queue.policy what to write. The statements that end a claim (finish, release,
rescue) are in herald.queue.endings.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Connection, String, func, literal, select, update

from herald.dbclock import now_sql
from herald.queue.claims import Claim, Horizon
from herald.queue.dialects import Dialect, dialect_for
from herald.queue.tables import attempts_t, posts, schedule
from herald.statuses import WAITING, AttemptOutcome, Phase, PostStatus, QueueStatus

PENDING, PROCESSING, HELD = QueueStatus.PENDING, QueueStatus.PROCESSING, QueueStatus.HELD
RUNNING = AttemptOutcome.RUNNING

# --- used by services inside their own transaction -------------------------------------


def enqueue(conn: Connection, *, post_id: str, run_at: datetime, max_attempts: int,
            now: datetime) -> None:
    """Put a post in the queue (the caller's transaction inserts the post too)."""
    enqueue_many(conn, [(post_id, run_at)], max_attempts=max_attempts, now=now)


def enqueue_many(conn: Connection, entries: Sequence[tuple[str, datetime]], *,
                 max_attempts: int, now: datetime, held: Collection[str] = ()) -> None:
    """Queue several posts (post id, run_at) with one statement.

    On PostgreSQL the insert notifies the workers by itself: a statement trigger on
    post_schedule (migration 0005) sends the NOTIFY, which saves the API's create a round
    trip. Posts in `held` (of an account whose queue is paused) wait as `held`.
    """
    conn.execute(schedule.insert(), [
        dict(post_id=post_id, run_at=run_at, status=HELD if post_id in held else PENDING,
             attempts=0,
             max_attempts=max_attempts, rescues=0, created_at=now, updated_at=now)
        for post_id, run_at in entries
    ])


def notify(conn: Connection) -> None:
    """Wake PostgreSQL listeners when the transaction commits (a no-op elsewhere).

    For the updates that make a post due sooner; inserts notify through the trigger.
    """
    dialect_for(conn.dialect.name).notify(conn)


def queue_status(conn: Connection, post_id: str) -> str | None:
    return conn.execute(
        select(schedule.c.status).where(schedule.c.post_id == post_id)
    ).scalar_one_or_none()


def cancel(conn: Connection, *, post_id: str, now: datetime) -> bool:
    """Cancel a post that no worker holds. False when it is being published right now."""
    result = conn.execute(
        update(schedule)
        .where(schedule.c.post_id == post_id, schedule.c.status.in_(WAITING))
        .values(status=QueueStatus.CANCELLED, updated_at=now)
    )
    return result.rowcount == 1


def withdraw(conn: Connection, *, post_id: str) -> bool:
    """Take a waiting post out of the queue (it goes back to approval). False when a
    worker holds it or it is not queued; its row is deleted, so an approval can queue it
    afresh."""
    result = conn.execute(
        schedule.delete().where(schedule.c.post_id == post_id, schedule.c.status == PENDING))
    return result.rowcount == 1


def reschedule(conn: Connection, *, post_id: str, run_at: datetime, now: datetime) -> bool:
    """Move a pending (or held) post to another time. False when it is no longer waiting."""
    result = conn.execute(
        update(schedule)
        .where(schedule.c.post_id == post_id, schedule.c.status.in_(WAITING))
        .values(run_at=run_at, updated_at=now)
    )
    if result.rowcount == 1:
        notify(conn)
    return result.rowcount == 1


def requeue(conn: Connection, *, post_id: str, now: datetime, extra_attempts: int) -> bool:
    """Put a failed post back in the queue with a fresh retry budget (count and time)."""
    result = conn.execute(
        update(schedule)
        .where(schedule.c.post_id == post_id, schedule.c.status == QueueStatus.FAILED)
        .values(
            status=PENDING, run_at=now, worker_id=None, lease_expires_at=None,
            max_attempts=schedule.c.attempts + extra_attempts, rescues=0,
            retry_deadline=None, updated_at=now,
        )
    )
    if result.rowcount == 1:
        notify(conn)
    return result.rowcount == 1


def requeue_follow_up(conn: Connection, *, post_id: str, now: datetime,
                      extra_attempts: int) -> bool:
    """Queue a published post again for its first comment alone (herald.first_comment).

    The post row stays `published`: mark_claimed leaves published posts as they are.
    """
    result = conn.execute(
        update(schedule)
        .where(schedule.c.post_id == post_id, schedule.c.status == QueueStatus.DONE)
        .values(
            status=PENDING, run_at=now, worker_id=None, lease_expires_at=None,
            max_attempts=schedule.c.attempts + extra_attempts, rescues=0,
            retry_deadline=None, updated_at=now,
        )
    )
    if result.rowcount == 1:
        notify(conn)
    return result.rowcount == 1


def dismiss(conn: Connection, *, post_id: str, now: datetime) -> bool:
    """Take a failed post out of the queue for good (the user cancelled it)."""
    result = conn.execute(
        update(schedule)
        .where(schedule.c.post_id == post_id, schedule.c.status == QueueStatus.FAILED)
        .values(status=QueueStatus.CANCELLED, updated_at=now)
    )
    return result.rowcount == 1


def defer_account(conn: Connection, *, account_id: str, until: datetime) -> int:
    """Hold an account's pending posts until `until` (the platform asked us to wait).

    Moving their run_at, rather than filtering accounts in the claim, keeps the claim a
    single-table index scan and lets other accounts' posts flow past untouched.
    """
    result = conn.execute(
        update(schedule)
        .where(schedule.c.status == PENDING, schedule.c.run_at < until,
               schedule.c.post_id.in_(select(posts.c.id).where(posts.c.account_id == account_id)))
        .values(run_at=until)
    )
    return result.rowcount


def lock_for_edit(conn: Connection, *, post_id: str) -> str | None:
    """Lock a post's queue row so no worker claims it while a person changes the post.

    Returns the row's status, or None for a post with no queue row (a draft).
    """
    return conn.execute(
        select(schedule.c.status).where(schedule.c.post_id == post_id).with_for_update()
    ).scalar_one_or_none()


def next_run_at(conn: Connection, *, post_id: str) -> datetime | None:
    """When the queue will next try the post, while it waits (None otherwise)."""
    return conn.execute(
        select(schedule.c.run_at).where(schedule.c.post_id == post_id,
                                        schedule.c.status.in_(WAITING))
    ).scalar_one_or_none()


def forget_posts(conn: Connection, post_ids: Sequence[str]) -> None:
    """Drop the queue rows and journals of posts about to be deleted (a series' occurrences
    still to come, made again from a new rule)."""
    if post_ids:
        conn.execute(attempts_t.delete().where(attempts_t.c.post_id.in_(list(post_ids))))
        conn.execute(schedule.delete().where(schedule.c.post_id.in_(list(post_ids))))


def forget_account(conn: Connection, *, account_id: str) -> None:
    """Drop the queue rows and journals of an account's posts (the account is deleted)."""
    post_ids = select(posts.c.id).where(posts.c.account_id == account_id).scalar_subquery()
    conn.execute(attempts_t.delete().where(attempts_t.c.post_id.in_(post_ids)))
    conn.execute(schedule.delete().where(schedule.c.post_id.in_(post_ids)))


# --- the worker's statements (one caller each, in herald.queue.leases) -----------------


def horizon(conn: Connection) -> Horizon:
    """The earliest pending run_at, the earliest lease in flight and the database's time,
    in one statement.

    Two index lookups (ix_post_schedule_due, ix_post_schedule_lease): the worker's
    poll, which also tells its rescue sweep whether any lease can have run out, so an
    idle worker sends one statement a poll and no sweeps. The time is the database's
    (herald.dbclock), by which the worker judges what is due.
    """
    earliest_due = select(func.min(schedule.c.run_at)).where(
        schedule.c.status == PENDING).scalar_subquery()
    earliest_lease = select(func.min(schedule.c.lease_expires_at)).where(
        schedule.c.status == PROCESSING).scalar_subquery()
    due, lease, now = conn.execute(
        select(earliest_due, earliest_lease, now_sql(conn.dialect.name))).one()
    return Horizon(due, lease, now)


def claim_due(conn: Connection, dialect: Dialect, *, worker_id: str, limit: int,
              now: ColumnElement[datetime], lease_until: ColumnElement[datetime],
              platforms: tuple[bool, list[str]] | None = None,
              posts_where: Sequence[ColumnElement[bool]] = ()) -> list[tuple[str, int]]:
    """Lease up to `limit` due rows; `platforms` = (True, only these) or (False, not
    these); `posts_where`: only posts that match these (the platform holds). `now` and
    `lease_until` are expressions: the database's clock (herald.dbclock) or a given
    time."""
    if limit <= 0:
        return []
    where = [schedule.c.status == PENDING, schedule.c.run_at <= now]
    if platforms is not None:
        keep, names = platforms
        where.append(schedule.c.post_id.in_(select(posts.c.id).where(
            posts.c.platform.in_(names) if keep else posts.c.platform.not_in(names))))
    if posts_where:
        where.append(schedule.c.post_id.in_(select(posts.c.id).where(*posts_where)))
    values: dict[str, Any] = dict(
        status=PROCESSING, worker_id=worker_id, locked_at=now, lease_expires_at=lease_until,
        attempts=schedule.c.attempts + 1, updated_at=now,
    )
    return dialect.claim_rows(conn, where, values, limit)


def accounts_of(conn: Connection, dialect: Dialect, post_ids: Sequence[str]
                ) -> dict[str, tuple[str, str]]:
    """Each post's (platform, account id)."""
    return {r.id: (r.platform, r.account_id) for r in conn.execute(
        select(posts.c.id, posts.c.platform, posts.c.account_id)
        .where(dialect.among(posts.c.id, list(post_ids))))}


def in_flight_per_platform(conn: Connection) -> dict[str, int]:
    """Posts being published right now, by platform, across every worker."""
    return {row.platform: row.n for row in conn.execute(
        select(posts.c.platform, func.count().label("n"))
        .select_from(schedule.join(posts, posts.c.id == schedule.c.post_id))
        .where(schedule.c.status == PROCESSING)
        .group_by(posts.c.platform)
    )}


def mark_claimed(conn: Connection, dialect: Dialect, claimed: list[tuple[str, int]],
                 worker_id: str, now: ColumnElement[datetime]) -> None:
    """The claimed posts are processing; each gets its attempt's journal row."""
    ids = [pid for pid, _ in claimed]
    # A published post claimed again only retries its first comment: it stays published.
    conn.execute(
        update(posts).where(dialect.among(posts.c.id, ids),
                            posts.c.status != PostStatus.PUBLISHED)
        .values(status=PostStatus.PROCESSING, updated_at=now)
    )
    # One INSERT … SELECT rather than a row per claim: the journal rows come straight
    # from the queue rows just claimed (attempt = the bumped attempts).
    conn.execute(
        attempts_t.insert().from_select(
            ["post_id", "attempt", "worker_id", "started_at", "phase", "platform_ids",
             "outcome"],
            select(schedule.c.post_id, schedule.c.attempts,
                   literal(worker_id, String), now,
                   literal(Phase.CLAIMED, String), literal({}, JSON),
                   literal(RUNNING, String))
            .where(dialect.among(schedule.c.post_id, ids)),
        )
    )


def extend_leases(conn: Connection, *, worker_id: str, until: ColumnElement[datetime]
                  ) -> int:
    """Extend every lease `worker_id` holds; returns how many it still holds."""
    result = conn.execute(
        update(schedule)
        .where(schedule.c.status == PROCESSING, schedule.c.worker_id == worker_id)
        .values(lease_expires_at=until)
    )
    return result.rowcount


def renew_if_held(conn: Connection, claim: Claim, *, until: ColumnElement[datetime]
                  ) -> bool:
    """Renew the claim's lease while this worker still holds this attempt.

    One UPDATE checks and renews: it matches only while this worker holds this
    attempt, and locks the row as a SELECT … FOR UPDATE would.
    """
    held = conn.execute(
        update(schedule).where(
            schedule.c.post_id == claim.post_id, schedule.c.status == PROCESSING,
            schedule.c.worker_id == claim.worker_id,
            schedule.c.attempts == claim.attempt)
        .values(lease_expires_at=until)
    ).rowcount
    return bool(held == 1)


def cancel_requested(conn: Connection, post_id: str) -> bool:
    """Whether a person asked to cancel the post; locks its row until the commit."""
    return conn.execute(
        select(posts.c.cancel_requested_at).where(posts.c.id == post_id).with_for_update()
    ).scalar_one_or_none() is not None


def write_phase(conn: Connection, claim: Claim, *, phase: Phase | str,
                ids: Mapping[str, Any]) -> None:
    """The phase the attempt reached and every platform id it obtained so far."""
    conn.execute(
        update(attempts_t)
        .where(attempts_t.c.post_id == claim.post_id, attempts_t.c.attempt == claim.attempt)
        .values(phase=phase, platform_ids=dict(ids))
    )


def journal_rows(conn: Connection, post_ids: Sequence[str]) -> Sequence[Any]:
    """The posts' journal rows, by post, oldest attempt first."""
    return conn.execute(
        select(attempts_t.c.post_id, attempts_t.c.phase, attempts_t.c.outcome,
               attempts_t.c.platform_ids)
        .where(attempts_t.c.post_id.in_(list(post_ids)))
        .order_by(attempts_t.c.post_id, attempts_t.c.attempt)
    ).all()


def rescue_counts(conn: Connection, post_ids: Sequence[str]) -> dict[str, int]:
    """How many counted rescues each post's queue row has had."""
    return {r.post_id: r.rescues for r in conn.execute(
        select(schedule.c.post_id, schedule.c.rescues)
        .where(schedule.c.post_id.in_(list(post_ids)))
    )}
