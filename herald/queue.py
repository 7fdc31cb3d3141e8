"""The queue: every statement that reads or writes `post_schedule` lives here.

A claim is a lease. The worker that holds it heartbeats; a lease that runs out is
rescued by any worker. Each claim bumps `attempts`, and every later write for that claim
is conditional on (status, worker_id, attempts) still being what the claimer saw, so a
slow worker and a rescuer can never both finish one post.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Engine,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError

from herald.db import READ_ONLY
from herald.models import Post, PostSchedule, PublishAttempt, UTCDateTime, utcnow

log = logging.getLogger(__name__)

# Declarative models type __table__ as FromClause; these are plain Tables.
schedule = cast(Table, PostSchedule.__table__)
posts = cast(Table, Post.__table__)
attempts_t = cast(Table, PublishAttempt.__table__)

NOTIFY_CHANNEL = "herald_queue"
#: The lock claimers hold while they count posts in flight against the platform caps.
CAPS_LOCK_KEY = 0x6865726C  # PostgreSQL advisory lock key ("herl")
CAPS_LOCK_NAME = "herald_platform_caps"  # MariaDB GET_LOCK name
#: How an attempt that reached its commit can end without knowing whether it went out.
UNKNOWN_ENDINGS = frozenset({"lease_expired", "retry", "unconfirmed"})
#: Journal phases only written after reconciliation let the attempt go on.
PAST_RECONCILIATION = frozenset({"committing", "refused", "committed", "reconciled"})

#: A post whose lease ran out this many times is failed rather than tried again:
#: something about it keeps killing or hanging workers.
MAX_RESCUES = 3

OutcomeKind = Literal["published", "retry", "failed", "unconfirmed", "cancelled"]


class CancelRequested(Exception):
    """The post was cancelled while this worker held it, before its commit."""


class LeaseLost(Exception):
    """This worker no longer holds the claim (its lease was rescued)."""


@dataclass(frozen=True)
class Claim:
    """A lease on one post, held by one worker for one attempt."""

    post_id: str
    attempt: int
    worker_id: str


@dataclass(frozen=True)
class Horizon:
    """What a poll reads: when the next post is due, when the first lease runs out."""

    due: datetime | None
    lease: datetime | None


@dataclass(frozen=True)
class Outcome:
    """How one claimed attempt ended, as the worker reports it."""

    claim: Claim
    kind: OutcomeKind
    external_id: str | None = None
    permalink: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    #: For retries: the earliest time the platform allows (Retry-After and the like).
    not_before: datetime | None = None
    phase: str | None = None
    platform_ids: dict[str, Any] = field(default_factory=dict)
    #: A retry whose last commit may have gone out: the next attempt reconciles first,
    #: and if attempts run out the post is `unconfirmed`, never `failed`.
    unknown: bool = False


def backoff_seconds(
    attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with jitter: base·2^(n-1), capped, times a random [0.5, 1)."""
    ceiling = min(cap, base * 2.0 ** max(0, attempt - 1))
    return ceiling * (0.5 + rand() / 2)


# --- used by services inside their own transaction -------------------------------------


def enqueue(conn: Connection, *, post_id: str, run_at: datetime, max_attempts: int,
            now: datetime) -> None:
    """Put a post in the queue (the caller's transaction inserts the post too)."""
    enqueue_many(conn, [(post_id, run_at)], max_attempts=max_attempts, now=now)


def enqueue_many(conn: Connection, entries: Sequence[tuple[str, datetime]], *,
                 max_attempts: int, now: datetime) -> None:
    """Queue several posts (post id, run_at) with one statement.

    On PostgreSQL the insert notifies the workers by itself: a statement trigger on
    post_schedule (migration 0005) sends the NOTIFY, which saves the API's create a round
    trip.
    """
    conn.execute(schedule.insert(), [
        dict(post_id=post_id, run_at=run_at, status="pending", attempts=0,
             max_attempts=max_attempts, rescues=0, created_at=now, updated_at=now)
        for post_id, run_at in entries
    ])


def notify(conn: Connection) -> None:
    """Wake PostgreSQL listeners when the transaction commits (a no-op elsewhere).

    For the updates that make a post due sooner; inserts notify through the trigger.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


def queue_status(conn: Connection, post_id: str) -> str | None:
    return conn.execute(
        select(schedule.c.status).where(schedule.c.post_id == post_id)
    ).scalar_one_or_none()


def cancel(conn: Connection, *, post_id: str, now: datetime) -> bool:
    """Cancel a post that no worker holds. False when it is being published right now."""
    result = conn.execute(
        update(schedule)
        .where(schedule.c.post_id == post_id, schedule.c.status == "pending")
        .values(status="cancelled", updated_at=now)
    )
    return result.rowcount == 1


def reschedule(conn: Connection, *, post_id: str, run_at: datetime, now: datetime) -> bool:
    """Move a pending post to another time. False when it is no longer pending."""
    result = conn.execute(
        update(schedule)
        .where(schedule.c.post_id == post_id, schedule.c.status == "pending")
        .values(run_at=run_at, updated_at=now)
    )
    if result.rowcount == 1:
        notify(conn)
    return result.rowcount == 1


def requeue(conn: Connection, *, post_id: str, now: datetime, extra_attempts: int) -> bool:
    """Put a failed post back in the queue with a fresh attempt budget."""
    result = conn.execute(
        update(schedule)
        .where(schedule.c.post_id == post_id, schedule.c.status == "failed")
        .values(
            status="pending", run_at=now, worker_id=None, lease_expires_at=None,
            max_attempts=schedule.c.attempts + extra_attempts, rescues=0, updated_at=now,
        )
    )
    if result.rowcount == 1:
        notify(conn)
    return result.rowcount == 1


# --- used by workers --------------------------------------------------------------------


class Queue:
    """Claims, heartbeats, completions and rescues against one database."""

    def __init__(
        self,
        engine: Engine,
        *,
        lease_seconds: float = 60.0,
        retry_base_seconds: float = 30.0,
        retry_max_seconds: float = 3600.0,
        rand: Callable[[], float] = random.random,
        platform_caps: Mapping[str, int] | None = None,
    ) -> None:
        self.engine = engine
        self.caps = dict(platform_caps or {})
        #: Whether the last claim left due posts behind because their platform was full.
        self.capped = False
        self.reader = engine.execution_options(**{READ_ONLY: True})
        self.dialect = engine.dialect.name
        self.lease = timedelta(seconds=lease_seconds)
        self.retry_base = retry_base_seconds
        self.retry_max = retry_max_seconds
        self.rand = rand

    # Idle path: this is the one cheap query an idle worker makes per wake-up.
    def horizon(self) -> Horizon:
        """The earliest pending run_at and the earliest lease in flight, in one statement.

        Two index lookups (ix_post_schedule_due, ix_post_schedule_lease): the worker's
        poll, which also tells its rescue sweep whether any lease can have run out, so an
        idle worker sends one statement a poll and no sweeps.
        """
        earliest_due = select(func.min(schedule.c.run_at)).where(
            schedule.c.status == "pending").scalar_subquery()
        earliest_lease = select(func.min(schedule.c.lease_expires_at)).where(
            schedule.c.status == "processing").scalar_subquery()
        with self.reader.connect() as conn:
            due, lease = conn.execute(select(earliest_due, earliest_lease)).one()
        return Horizon(due, lease)

    def claim(self, *, worker_id: str, limit: int, now: datetime) -> list[Claim]:
        """Lease up to `limit` due posts, oldest first; skip rows other workers hold."""
        if limit <= 0:
            return []
        for attempt in (1, 2):
            try:
                if self.caps:
                    return self._claim_capped(worker_id, limit, now)
                with self.engine.begin() as conn:
                    claimed = self._claim_rows(conn, worker_id, limit, now)
                    if claimed:
                        self._mark_claimed(conn, claimed, worker_id, now)
                    return [Claim(pid, n, worker_id) for pid, n in claimed]
            except OperationalError as exc:
                # MariaDB may still pick two claimers as a deadlock; the loser retries once.
                if attempt == 2 or not _is_deadlock(exc):
                    raise
                log.info("claim deadlocked, retrying once")
        return []

    def _claim_capped(self, worker_id: str, limit: int, now: datetime) -> list[Claim]:
        """Claim within the per-platform caps, counting what every worker has in flight.

        Claimers hold one lock from the count until their claims are committed, so two
        of them cannot both see the same free room and together go past a cap. SQLite's
        IMMEDIATE transaction is that lock already; PostgreSQL's advisory lock ends with
        the transaction; MariaDB's GET_LOCK belongs to the session, so it is released
        only once the claims are committed and visible to the next claimer.
        """
        with self.engine.connect() as conn:
            try:
                with conn.begin():
                    if self.dialect == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                     {"key": CAPS_LOCK_KEY})
                    elif self.dialect == "mysql":
                        conn.execute(text("SELECT GET_LOCK(:name, 10)"),
                                     {"name": CAPS_LOCK_NAME})
                    busy: dict[str, int] = {row.platform: row.n for row in conn.execute(
                        select(posts.c.platform, func.count().label("n"))
                        .select_from(schedule.join(posts, posts.c.id == schedule.c.post_id))
                        .where(schedule.c.status == "processing")
                        .group_by(posts.c.platform)
                    )}
                    room = {p: cap - busy.get(p, 0) for p, cap in self.caps.items()}
                    claimed = self._claim_rows(conn, worker_id, limit, now,
                                               platforms=(False, list(self.caps)))
                    for platform, free in room.items():
                        got = self._claim_rows(conn, worker_id,
                                               min(free, limit - len(claimed)), now,
                                               platforms=(True, [platform]))
                        claimed += got
                        room[platform] = free - len(got)
                    self.capped = any(free <= 0 for free in room.values())
                    if claimed:
                        self._mark_claimed(conn, claimed, worker_id, now)
            finally:
                if self.dialect == "mysql":
                    conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": CAPS_LOCK_NAME})
                    conn.commit()
        return [Claim(pid, n, worker_id) for pid, n in claimed]

    def _claim_rows(
        self, conn: Connection, worker_id: str, limit: int, now: datetime,
        platforms: tuple[bool, list[str]] | None = None,
    ) -> list[tuple[str, int]]:
        """Lease up to `limit` due rows; `platforms` = (True, only these) or (False, not
        these)."""
        if limit <= 0:
            return []
        where = [schedule.c.status == "pending", schedule.c.run_at <= now]
        if platforms is not None:
            keep, names = platforms
            where.append(schedule.c.post_id.in_(select(posts.c.id).where(
                posts.c.platform.in_(names) if keep else posts.c.platform.not_in(names))))
        due = select(schedule.c.post_id).where(*where).order_by(schedule.c.run_at).limit(limit)
        values: dict[str, Any] = dict(
            status="processing", worker_id=worker_id, locked_at=now,
            lease_expires_at=now + self.lease, attempts=schedule.c.attempts + 1,
            updated_at=now,
        )
        if self.dialect == "mysql":
            # No UPDATE … RETURNING and no LIMIT in an IN-subquery on MariaDB: lock the
            # rows with SKIP LOCKED, then update exactly those, in this one transaction.
            rows = conn.execute(
                select(schedule.c.post_id, schedule.c.attempts)
                .where(*where)
                .order_by(schedule.c.run_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return []
            conn.execute(
                update(schedule)
                .where(schedule.c.post_id.in_([r.post_id for r in rows]))
                .values(**values)
            )
            return [(r.post_id, r.attempts + 1) for r in rows]
        if self.dialect == "postgresql":
            # SKIP LOCKED: concurrent claimers take different rows instead of queueing.
            due = due.with_for_update(skip_locked=True)
        # SQLite: the transaction began IMMEDIATE (herald.db), so claimers are serialised.
        stmt = (
            update(schedule)
            .where(schedule.c.post_id.in_(due.scalar_subquery()))
            .values(**values)
            .returning(schedule.c.post_id, schedule.c.attempts)
        )
        return [(r.post_id, r.attempts) for r in conn.execute(stmt)]

    def _mark_claimed(
        self, conn: Connection, claimed: list[tuple[str, int]], worker_id: str, now: datetime
    ) -> None:
        ids = [pid for pid, _ in claimed]
        conn.execute(
            update(posts).where(among(posts.c.id, ids, self.dialect))
            .values(status="processing", updated_at=now)
        )
        # One INSERT … SELECT rather than a row per claim: the journal rows come straight
        # from the queue rows just claimed (attempt = the bumped attempts).
        conn.execute(
            attempts_t.insert().from_select(
                ["post_id", "attempt", "worker_id", "started_at", "phase", "platform_ids",
                 "outcome"],
                select(schedule.c.post_id, schedule.c.attempts,
                       literal(worker_id, String), literal(now, UTCDateTime()),
                       literal("claimed", String), literal({}, JSON),
                       literal("running", String))
                .where(among(schedule.c.post_id, ids, self.dialect)),
            )
        )

    def heartbeat(self, *, worker_id: str, now: datetime) -> int:
        """Extend every lease this worker holds; returns how many it still holds."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(schedule)
                .where(schedule.c.status == "processing", schedule.c.worker_id == worker_id)
                .values(lease_expires_at=now + self.lease)
            )
            return result.rowcount

    def record_phase(self, claim: Claim, *, phase: str, ids: dict[str, Any],
                     check_cancel: bool = False) -> None:
        # MariaDB may pick this short transaction as a deadlock victim against a batch
        # write; it holds nothing worth keeping, so run it again.
        for attempt in (1, 2, 3):
            try:
                return self._record_phase(claim, phase=phase, ids=ids,
                                          check_cancel=check_cancel)
            except OperationalError as exc:
                if attempt == 3 or not _is_deadlock(exc):
                    raise

    def _record_phase(self, claim: Claim, *, phase: str, ids: dict[str, Any],
                      check_cancel: bool) -> None:
        """Journal progress of an attempt: the phase reached and the platform ids so far.

        `ids` holds everything the attempt has obtained so far: it replaces what an earlier
        call for the same attempt recorded (only the attempt's holder writes its row).
        With `check_cancel` (just before the commit) it raises LeaseLost when this worker
        no longer holds the post, and CancelRequested when the post was cancelled
        meanwhile. The post row is locked while this transaction reads it, so a cancel
        lands either before (and is honoured) or after "committing" is on record (and the
        post, once out, stays published).
        """
        with self.engine.begin() as conn:
            if check_cancel:
                # Still ours? A worker whose lease was rescued (it stalled, or the database
                # was away longer than the lease) must not commit: the rescuer may have.
                # One UPDATE checks and renews: it matches only while this worker holds this
                # attempt, and locks the row as a SELECT … FOR UPDATE would. The fresh lease
                # is for the commit: the holder is alive right now, and a rescue while its
                # call is in flight is what could post twice.
                held = conn.execute(
                    update(schedule).where(
                        schedule.c.post_id == claim.post_id, schedule.c.status == "processing",
                        schedule.c.worker_id == claim.worker_id,
                        schedule.c.attempts == claim.attempt)
                    .values(lease_expires_at=utcnow() + self.lease)
                ).rowcount
                if held != 1:
                    raise LeaseLost(claim.post_id)
                cancelled = conn.execute(
                    select(posts.c.cancel_requested_at).where(posts.c.id == claim.post_id)
                    .with_for_update()
                ).scalar_one_or_none()
                if cancelled is not None:
                    raise CancelRequested(claim.post_id)  # the renewal rolls back with it
            conn.execute(
                update(attempts_t)
                .where(attempts_t.c.post_id == claim.post_id,
                       attempts_t.c.attempt == claim.attempt)
                .values(phase=phase, platform_ids=ids)
            )

    def previous_ids(self, post_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Platform ids recorded by earlier attempts, merged oldest to newest, per post.

        `final_check` marks a post given one last, reconcile-only attempt after its
        worker stopped MAX_RESCUES times mid-commit (see rescue_expired).
        """
        if not post_ids:
            return {}
        with self.reader.connect() as conn:
            merged = _journal_so_far(conn, post_ids)
            final = conn.execute(
                select(schedule.c.post_id).where(schedule.c.post_id.in_(list(post_ids)),
                                                 schedule.c.rescues >= MAX_RESCUES)
            ).scalars().all()
        for post_id in final:
            merged.setdefault(post_id, {})["final_check"] = True
        return merged

    def finish(self, outcomes: Sequence[Outcome], *, now: datetime) -> list[Outcome]:
        """Apply outcomes in one transaction; returns those applied.

        An outcome whose claim is no longer held (rescued, cancelled, re-claimed) is
        dropped: the lease moved on, so this worker's word no longer counts.
        """
        if not outcomes:
            return []
        with self.engine.begin() as conn:
            held = self._still_held(conn, outcomes)
            applied = [o for o in outcomes if held.get(o.claim.post_id, (None,))[0]
                       == o.claim.attempt]
            retries: list[dict[str, Any]] = []
            finals: list[dict[str, Any]] = []
            journal: list[dict[str, Any]] = []
            for o in applied:
                attempt, max_attempts, cancel = held[o.claim.post_id]
                kind = o.kind
                message = o.error_message
                if cancel and kind in ("retry", "failed") and not o.unknown:
                    kind, message = "cancelled", "Cancelled before it was sent."
                elif cancel and kind == "published":
                    message = ("A cancel arrived after the post had been sent; it stays "
                               "published. Delete it on the platform if it should go.")
                elif kind == "retry" and attempt >= max_attempts:
                    kind = "unconfirmed" if o.unknown else "failed"
                    message = f"{message} (gave up after {attempt} attempts)"
                journal.append(dict(
                    b_post=o.claim.post_id, b_attempt=attempt, finished_at=now,
                    outcome=kind, error_code=o.error_code, error_message=message,
                    **({"phase": o.phase} if o.phase else {}),
                    **({"platform_ids": o.platform_ids} if o.platform_ids else {}),
                ))
                if kind == "retry":
                    delay = backoff_seconds(attempt, base=self.retry_base, cap=self.retry_max,
                                            rand=self.rand)
                    run_at = now + timedelta(seconds=delay)
                    if o.not_before is not None and o.not_before > run_at:
                        run_at = o.not_before
                    retries.append(dict(b_post=o.claim.post_id, run_at=run_at,
                                        error_message=message, attempts=attempt))
                else:
                    finals.append(dict(
                        b_post=o.claim.post_id, post_status=kind,
                        queue_status={"published": "done", "cancelled": "cancelled"}.get(
                            kind, "failed"),
                        external_post_id=o.external_id, permalink=o.permalink,
                        error_message=message, attempts=attempt,
                        published_at=now if kind == "published" else None,
                    ))
            self._write_journal(conn, journal)
            self._write_retries(conn, retries, now)
            self._write_finals(conn, finals, now)
        return applied

    def _still_held(
        self, conn: Connection, outcomes: Sequence[Outcome]
    ) -> dict[str, tuple[int, int, bool]]:
        """(attempts, max attempts, cancel requested) of the outcomes' rows still held."""
        by_worker: dict[str, list[str]] = {}
        for o in outcomes:
            by_worker.setdefault(o.claim.worker_id, []).append(o.claim.post_id)
        held: dict[str, tuple[int, int, bool]] = {}
        for worker_id, ids in by_worker.items():
            rows = conn.execute(
                select(schedule.c.post_id, schedule.c.attempts, schedule.c.max_attempts,
                       posts.c.cancel_requested_at)
                .join(posts, posts.c.id == schedule.c.post_id)
                .where(among(schedule.c.post_id, ids, self.dialect),
                       schedule.c.status == "processing",
                       schedule.c.worker_id == worker_id)
                .with_for_update()
            ).all()
            held.update({r.post_id: (r.attempts, r.max_attempts,
                                     r.cancel_requested_at is not None) for r in rows})
        return held

    def _write_journal(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        # Outcomes mostly share their values (a burst of "published"): one UPDATE per
        # distinct set of values, matched by (post, attempt), not one per row.
        # The rows' queue entries are locked and held by this claim (see _still_held), so
        # each post's one "running" attempt is this claim's: match on that, which the
        # (post_id, attempt) index serves, rather than on (post_id, attempt) pairs.
        groups: dict[str, list[str]] = {}
        values: dict[str, dict[str, Any]] = {}
        for row in rows:
            fixed = {k: v for k, v in row.items() if not k.startswith("b_")}
            ids = fixed.pop("platform_ids", None)
            key = json.dumps(fixed, sort_keys=True, default=str)
            groups.setdefault(key, []).append(row["b_post"])
            values[key] = fixed
            if ids:
                groups.setdefault("ids", []).append(row["b_post"])
                values.setdefault("ids", {})[row["b_post"]] = ids
        ids_by_post = values.pop("ids", {})
        groups.pop("ids", None)
        if ids_by_post:
            # Platform ids differ per post: set them while the attempt is still "running".
            _bulk_update(conn, attempts_t, [
                {"b_post": pid, "platform_ids": json.dumps(ids, default=str)}
                for pid, ids in ids_by_post.items()], {"platform_ids": "json"},
                where_running=True)
        for key, post_ids in groups.items():
            conn.execute(
                update(attempts_t)
                .where(among(attempts_t.c.post_id, post_ids, self.dialect),
                       attempts_t.c.outcome == "running")
                .values(**values[key])
            )

    def _write_retries(self, conn: Connection, rows: list[dict[str, Any]],
                       now: datetime) -> None:
        if not rows:
            return
        _bulk_update(conn, schedule, [
            dict(b_post=r["b_post"], status="pending", run_at=r["run_at"], worker_id=None,
                 lease_expires_at=None, updated_at=now) for r in rows],
            {"status": "str", "run_at": "time", "worker_id": "str",
             "lease_expires_at": "time", "updated_at": "time"})
        _bulk_update(conn, posts, [
            dict(b_post=r["b_post"], status="pending", error_message=r["error_message"],
                 attempts=r["attempts"], updated_at=now) for r in rows],
            {"status": "str", "error_message": "str", "attempts": "int",
             "updated_at": "time"})
        notify(conn)

    def _write_finals(self, conn: Connection, rows: list[dict[str, Any]],
                      now: datetime) -> None:
        if not rows:
            return
        _bulk_update(conn, schedule, [
            dict(b_post=r["b_post"], status=r["queue_status"], lease_expires_at=None,
                 updated_at=now) for r in rows],
            {"status": "str", "lease_expires_at": "time", "updated_at": "time"})
        _bulk_update(conn, posts, [
            dict(b_post=r["b_post"], status=r["post_status"],
                 external_post_id=r["external_post_id"], permalink=r["permalink"],
                 error_message=r["error_message"], attempts=r["attempts"],
                 published_at=r["published_at"], updated_at=now) for r in rows],
            {"status": "str", "external_post_id": "str", "permalink": "str",
             "error_message": "str", "attempts": "int", "published_at": "time",
             "updated_at": "time"})

    def release(self, claims: Sequence[Claim], *, now: datetime) -> int:
        """Hand back claims this worker never started (graceful shutdown)."""
        released = 0
        with self.engine.begin() as conn:
            for c in claims:
                result = conn.execute(
                    update(schedule)
                    .where(schedule.c.post_id == c.post_id, schedule.c.status == "processing",
                           schedule.c.worker_id == c.worker_id,
                           schedule.c.attempts == c.attempt)
                    .values(status="pending", worker_id=None, lease_expires_at=None,
                            attempts=schedule.c.attempts - 1, updated_at=now)
                )
                if result.rowcount != 1:
                    continue
                released += 1
                conn.execute(
                    update(posts).where(posts.c.id == c.post_id)
                    .values(status="pending", updated_at=now)
                )
                conn.execute(
                    attempts_t.delete().where(attempts_t.c.post_id == c.post_id,
                                              attempts_t.c.attempt == c.attempt)
                )
            if released:
                notify(conn)
        return released

    def rescue_expired(self, *, now: datetime, limit: int = 500) -> int:
        """Return posts whose lease ran out to the queue (or fail them past MAX_RESCUES).

        The next claim sees the expired attempt in the journal and reconciles before it
        sends anything again, so a post that went out just before its worker died is
        not posted twice.
        """
        with self.engine.begin() as conn:
            expired = (
                select(schedule.c.post_id, schedule.c.attempts, schedule.c.rescues)
                .where(schedule.c.status == "processing", schedule.c.lease_expires_at < now)
                .limit(limit)
            )
            if self.dialect != "sqlite":
                expired = expired.with_for_update(skip_locked=True)
            rows = conn.execute(expired).all()
            if not rows:
                return 0
            # Conditional on the lease still being expired: a heartbeat that landed since
            # the SELECT (SQLite has no row locks) wins over the rescue.
            still_expired = and_(schedule.c.status == "processing",
                                 schedule.c.lease_expires_at < now)
            phases = dict(conn.execute(
                select(attempts_t.c.post_id, attempts_t.c.phase)
                .where(attempts_t.c.post_id.in_([r.post_id for r in rows]),
                       attempts_t.c.outcome == "running")
            ).all())
            # Only a lease lost while publishing counts towards the limit: posts a worker
            # had claimed but not started when it died did nothing to deserve it.
            started = {pid for pid, phase in phases.items() if phase != "claimed"}
            counted = {r.post_id: r.rescues + (r.post_id in started) for r in rows}
            # Only posts at the limit need their journal read: the others go back anyway.
            at_limit = [pid for pid, n in counted.items() if n >= MAX_RESCUES]
            journal = _journal_so_far(conn, at_limit) if at_limit else {}
            maybe_out = {pid for pid in at_limit if phases.get(pid) == "committing"
                         or journal.get(pid, {}).get("unsettled_commit")}
            # At the limit, a post that may be out gets one last attempt that only checks
            # the platform (previous_ids marks it `final_check`): workers being killed is
            # no reason to leave unconfirmed a post the platform can settle.
            back = [pid for pid, n in counted.items()
                    if n < MAX_RESCUES or (n == MAX_RESCUES and pid in maybe_out)]
            dead = [pid for pid in counted if pid not in back]
            if back:
                # A lost lease is not the post's fault: it gets its attempt back.
                for bump in (0, 1):
                    ids = [pid for pid in back if (pid in started) == bool(bump)]
                    if ids:
                        conn.execute(
                            update(schedule).where(schedule.c.post_id.in_(ids), still_expired)
                            .values(status="pending", run_at=now, worker_id=None,
                                    lease_expires_at=None, rescues=schedule.c.rescues + bump,
                                    max_attempts=schedule.c.max_attempts + 1, updated_at=now)
                        )
                conn.execute(
                    update(posts).where(posts.c.id.in_(back), posts.c.status == "processing")
                    .values(status="pending", updated_at=now)
                )
            if dead:
                message = (f"The worker publishing this post stopped {MAX_RESCUES} times "
                           "before finishing; check the workers' logs, then retry.")
                conn.execute(
                    update(schedule).where(schedule.c.post_id.in_(dead), still_expired)
                    .values(status="failed", lease_expires_at=None,
                            rescues=schedule.c.rescues + 1, updated_at=now)
                )
                # One that died mid-commit may be out: say so rather than "failed".
                for status, ids in (
                    ("unconfirmed", [p for p in dead if p in maybe_out]),
                    ("failed", [p for p in dead if p not in maybe_out]),
                ):
                    if ids:
                        note = message if status == "failed" else (
                            message + " It was being posted when its worker stopped, so it "
                            "may be live: check the account.")
                        conn.execute(
                            update(posts)
                            .where(posts.c.id.in_(ids), posts.c.status == "processing")
                            .values(status=status, error_message=note, updated_at=now)
                        )
            conn.execute(
                update(attempts_t)
                .where(attempts_t.c.post_id.in_([r.post_id for r in rows]),
                       attempts_t.c.outcome == "running")
                .values(outcome="lease_expired", finished_at=now)
            )
            notify(conn)
            return len(rows)

    def stats(self, *, now: datetime, since: datetime) -> dict[str, Any]:
        """The seed's monitoring queries, in one place."""
        with self.reader.connect() as conn:
            due = conn.execute(
                select(func.count()).where(schedule.c.status == "pending",
                                           schedule.c.run_at <= now)
            ).scalar_one()
            by_status: dict[str, int] = dict(conn.execute(
                select(schedule.c.status, func.count()).group_by(schedule.c.status)
            ).all())
            expired = conn.execute(
                select(func.count()).where(schedule.c.status == "processing",
                                           schedule.c.lease_expires_at < now)
            ).scalar_one()
            per_worker: dict[str, int] = dict(conn.execute(
                select(schedule.c.worker_id, func.count())
                .where(schedule.c.status == "processing")
                .group_by(schedule.c.worker_id)
            ).all())
            today: dict[str, int] = dict(conn.execute(
                select(posts.c.status, func.count())
                .where(posts.c.updated_at >= since,
                       posts.c.status.in_(("published", "failed", "unconfirmed")))
                .group_by(posts.c.status)
            ).all())
        finished = sum(today.values())
        return {
            "due_now": due,
            "pending": by_status.get("pending", 0),
            "processing": by_status.get("processing", 0),
            "expired_leases": expired,
            "published_today": today.get("published", 0),
            "failed_today": today.get("failed", 0),
            "unconfirmed_today": today.get("unconfirmed", 0),
            "success_rate_today": (today.get("published", 0) / finished) if finished else None,
            "processing_per_worker": per_worker,
        }


#: Types of the columns set in bulk, for each engine's row-source declaration.
_BULK_TYPES = {
    "postgresql": {"str": "text", "int": "integer", "time": "timestamp", "json": "text"},
    "mysql": {"str": "TEXT", "int": "INTEGER", "time": "DATETIME(6)", "json": "TEXT"},
}


def _journal_so_far(conn: Connection, post_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The posts' journals merged oldest to newest: platform ids, the last phase and
    outcome, and whether a commit is still unsettled."""
    merged: dict[str, dict[str, Any]] = {}
    rows = conn.execute(
        select(attempts_t.c.post_id, attempts_t.c.phase, attempts_t.c.outcome,
               attempts_t.c.platform_ids)
        .where(attempts_t.c.post_id.in_(list(post_ids)))
        .order_by(attempts_t.c.post_id, attempts_t.c.attempt)
    ).all()
    for row in rows:
        entry = merged.setdefault(row.post_id, {})
        entry.update(row.platform_ids or {})
        if row.outcome == "running":
            continue
        entry["last_phase"] = row.phase
        entry["last_outcome"] = row.outcome
        # A commit whose result nobody learned stays unsettled until a later attempt
        # gets past reconciliation (reaches its own commit) or settles the post. An
        # attempt that died or failed before that (while reconciling, say) settles
        # nothing: forgetting the earlier commit there would post twice.
        if row.phase == "committing":
            # Its worker stopped (or lost its lease) before the call was answered: the
            # call may still be on the wire. An answered call, even a 5xx, is over.
            entry["commit_cut_off"] = row.outcome == "lease_expired"
        if row.phase == "committing" and row.outcome in UNKNOWN_ENDINGS:
            entry["unsettled_commit"] = True
        elif row.phase in PAST_RECONCILIATION or row.outcome in ("published", "cancelled"):
            entry["unsettled_commit"] = False
    return merged


def _bulk_update(conn: Connection, table: Table, rows: list[dict[str, Any]],
                 columns: dict[str, str], *, where_running: bool = False) -> None:
    """Give each row of `table` (by id in "b_post") its own values in ONE statement.

    executemany sends a statement per row, and a CASE per column recompiles per batch
    size; a JSON array of rows read as a table (json_to_recordset, JSON_TABLE,
    json_each) keeps one fixed statement text that every engine plans once.
    `columns` maps column name → "str" | "int" | "time" | "json".
    """
    key = "id" if table is posts else "post_id"
    # The journal row of a claim is its post's one attempt still "running".
    running = " AND t.outcome = 'running'" if where_running else ""
    payload = json.dumps([{"id": r["b_post"], **{c: _json_value(r[c]) for c in columns}}
                          for r in rows])
    dialect = conn.dialect.name
    assignments = ", ".join(
        f"{c} = CAST(v.{c} AS json)" if t == "json" and dialect == "postgresql" else f"{c} = v.{c}"
        for c, t in columns.items())
    if dialect == "postgresql":
        types = _BULK_TYPES[dialect]
        decl = ", ".join(["id text"] + [f"{c} {types[t]}" for c, t in columns.items()])
        sql = (f"UPDATE {table.name} AS t SET {assignments} FROM json_to_recordset("
               f"CAST(:rows AS json)) AS v({decl}) WHERE t.{key} = v.id{running}")
    elif dialect == "mysql":
        types = _BULK_TYPES[dialect]
        decl = ", ".join(["id VARCHAR(36) PATH '$.id'"] + [
            f"{c} {types[t]} PATH '$.{c}'" for c, t in columns.items()])
        assignments = ", ".join(f"t.{c} = v.{c}" for c in columns)
        sql = (f"UPDATE {table.name} AS t JOIN JSON_TABLE(:rows, '$[*]' COLUMNS({decl})) "
               f"AS v ON t.{key} = v.id{running} SET {assignments}")
    else:
        picks = ", ".join(["json_extract(value, '$.id') AS id"] + [
            f"json_extract(value, '$.{c}') AS {c}" for c in columns])
        sql = (f"UPDATE {table.name} AS t SET {assignments} FROM (SELECT {picks} FROM "
               f"json_each(:rows)) AS v WHERE t.{key} = v.id{running}")
    conn.execute(text(sql), {"rows": payload})


def among(column: ColumnElement[Any], ids: Sequence[str], dialect: str) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL `column = ANY(:ids)`, one array parameter.

    An IN list has a placeholder per id, so its text changes with the batch size and
    is long to build and parse: psycopg converts every new text again, and the server
    parses and plans it each time. One array keeps one text, which psycopg caches and,
    after a few runs, prepares on the server.
    """
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(String)))
    return column.in_(ids)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # Naive UTC in the format SQLAlchemy stores on SQLite, which PostgreSQL and
        # MariaDB read as well.
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _is_deadlock(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "args", (None,))[0]
    return code in (1213, 1205)  # ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT


async def listen(url: Any, on_notify: Callable[[], None], *, health_every: float = 30.0) -> None:
    """Call `on_notify` for every NOTIFY on the queue channel until cancelled (PostgreSQL).

    Returns (rather than raising) when the connection dies, so the caller decides how
    to reconnect. A silent TCP death would block `notifies()` forever, so every
    `health_every` seconds without traffic the connection is probed.
    """
    import psycopg

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        on_notify()  # anything enqueued while we were not listening
        while True:
            async for _ in conn.notifies(timeout=health_every):
                on_notify()
            await conn.execute("SELECT 1")


def defer_account(conn: Connection, *, account_id: str, until: datetime) -> int:
    """Hold an account's pending posts until `until` (the platform asked us to wait).

    Moving their run_at, rather than filtering accounts in the claim, keeps the claim a
    single-table index scan and lets other accounts' posts flow past untouched.
    """
    result = conn.execute(
        update(schedule)
        .where(schedule.c.status == "pending", schedule.c.run_at < until,
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
                                        schedule.c.status == "pending")
    ).scalar_one_or_none()


def forget_account(conn: Connection, *, account_id: str) -> None:
    """Drop the queue rows and journals of an account's posts (the account is deleted)."""
    post_ids = select(posts.c.id).where(posts.c.account_id == account_id).scalar_subquery()
    conn.execute(attempts_t.delete().where(attempts_t.c.post_id.in_(post_ids)))
    conn.execute(schedule.delete().where(schedule.c.post_id.in_(post_ids)))


def dismiss(conn: Connection, *, post_id: str, now: datetime) -> bool:
    """Take a failed post out of the queue for good (the user cancelled it)."""
    result = conn.execute(
        update(schedule)
        .where(schedule.c.post_id == post_id, schedule.c.status == "failed")
        .values(status="cancelled", updated_at=now)
    )
    return result.rowcount == 1
