"""The worker's side of the queue: claims, heartbeats, completions and rescues.

A claim is a lease. The worker that holds it heartbeats; a lease that runs out is
rescued by any worker. Each claim bumps `attempts`, and every later write for that claim
is conditional on (status, worker_id, attempts) still being what the claimer saw, so a
slow worker and a rescuer can never both finish one post.

`Queue` owns the transactions; the statements are in herald.queue.store and
herald.queue.endings, the decisions in herald.queue.policy.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine
from sqlalchemy.exc import OperationalError

from herald import dbclock
from herald.db import READ_ONLY
from herald.events.types import EventType
from herald.platforms.base import History
from herald.queue import endings, health, policy, store
from herald.queue.claims import CancelRequested, Claim, Horizon, LeaseLost, Outcome
from herald.queue.dialects import dialect_for
from herald.queue.journal import histories as read_histories
from herald.queue.stats import stats
from herald.statuses import AttemptOutcome, Phase, PostStatus, QueueStatus

log = logging.getLogger(__name__)


class Queue:
    """Claims, heartbeats, completions and rescues against one database.

    What is due and whose lease ran out are decided by the database's clock, in the
    statement (herald.dbclock): a host whose clock is off neither claims early nor
    rescues a live lease. `now`, where a method takes one, replaces that clock (tests).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        lease_seconds: float = 60.0,
        retry_base_seconds: float = 30.0,
        retry_max_seconds: float = 60.0,
        retry_budget_seconds: float = 6 * 3600.0,
        retry_unreachable_seconds: float = 2.0,
        rand: Callable[[], float] = random.random,
        platform_caps: Mapping[str, int] | None = None,
        outage: health.Rules | None = None,
    ) -> None:
        self.engine = engine
        self.caps = dict(platform_caps or {})
        #: Whether the last claim left due posts behind because their platform was full.
        self.capped = False
        self.outage = outage or health.Rules()
        #: After a claim: when the next probe of a platform held as down is due (None:
        #: none is down), so a worker facing only held posts sleeps rather than spins.
        self.holding: datetime | None = None
        self.reader = engine.execution_options(**{READ_ONLY: True})
        self.sql = dialect_for(engine.dialect.name)
        self.dialect = self.sql.name
        self.lease = timedelta(seconds=lease_seconds)
        self.retry = policy.Retry(retry_base_seconds, retry_max_seconds, rand,
                                  budget_seconds=retry_budget_seconds,
                                  unreachable_seconds=retry_unreachable_seconds)

    # Idle path: this is the one cheap query an idle worker makes per wake-up.
    def horizon(self) -> Horizon:
        """The earliest pending run_at and the earliest lease in flight (store.horizon)."""
        with self.reader.connect() as conn:
            return store.horizon(conn)

    def claim(self, *, worker_id: str, limit: int, now: datetime | None = None
              ) -> list[Claim]:
        """Lease up to `limit` due posts, oldest first; skip rows other workers hold.

        Due by the database's clock unless `now` is given.
        """
        if limit <= 0:
            return []
        with self.reader.connect() as conn:
            holds = health.holds(conn)
            # Probes are due by the database's clock too (read only while one is down).
            clock = (now or dbclock.read_now(conn)) if holds else None
        self.holding = holds.next_probe()
        held = holds.held()
        keep = [] if held is None else [~held]
        claims = self._claim(worker_id, limit, now, keep)
        if clock is not None:
            claims += self._probe(holds, worker_id, limit - len(claims), clock)
        return claims

    def _claim(self, worker_id: str, limit: int, now: datetime | None,
               keep: list[ColumnElement[bool]]) -> list[Claim]:
        for attempt in (1, 2):
            try:
                if self.caps:
                    return self._claim_capped(worker_id, limit, now, keep)
                with self.engine.begin() as conn:
                    claimed = store.claim_due(conn, self.sql, worker_id=worker_id,
                                              limit=limit, now=self._at(now),
                                              lease_until=self._at(now, self.lease),
                                              posts_where=keep)
                    if claimed:
                        store.mark_claimed(conn, self.sql, claimed, worker_id,
                                           self._at(now))
                    return [Claim(pid, n, worker_id) for pid, n in claimed]
            except OperationalError as exc:
                # MariaDB may still pick two claimers as a deadlock; the loser retries once.
                if attempt == 2 or not self.sql.is_deadlock(exc):
                    raise
                log.info("claim deadlocked, retrying once")
        return []

    def _at(self, now: datetime | None, plus: timedelta | None = None) -> Any:
        """`now` (+ `plus`) in a statement: the given time, or the database's clock."""
        return dbclock.at(now, self.dialect, plus.total_seconds() if plus else 0.0)

    def _probe(self, holds: health.Holds, worker_id: str, room: int, now: datetime
               ) -> list[Claim]:
        """One post for each scope held as down whose probe is due (health.py)."""
        got: list[Claim] = []
        probed: set[str] = set()  # platforms down whose probe found a post
        for down in holds.probes(now):
            if len(got) >= room:
                break
            if down.account_id is not None and down.platform in probed:
                continue  # the platform's probe speaks for its accounts
            try:
                claim = self._probe_one(holds, down, worker_id, now)
            except OperationalError as exc:
                if not self.sql.is_deadlock(exc):
                    raise
                continue  # someone else's probe: the next claim tries again
            if claim is not None:
                got.append(claim)
                if down.account_id is None:
                    probed.add(down.platform)
        return got

    def _probe_one(self, holds: health.Holds, down: health.Down, worker_id: str,
                   now: datetime) -> Claim | None:
        # The claimed queue row first, then the health row: the order finish locks them.
        with self.engine.connect() as conn, conn.begin() as tx:
            claimed = store.claim_due(conn, self.sql, worker_id=worker_id, limit=1,
                                      now=self._at(now), lease_until=self._at(now, self.lease),
                                      posts_where=holds.probe_posts(down))
            if not claimed:
                return None
            [(post_id, attempt)] = claimed
            if not health.take_probe(conn, down, post_id, now=now):
                tx.rollback()  # another worker sent this probe
                return None
            store.mark_claimed(conn, self.sql, claimed, worker_id, self._at(now))
        log.info("%s is held as down: post %s goes as its probe", down.scope, post_id)
        return Claim(post_id, attempt, worker_id)

    def _claim_capped(self, worker_id: str, limit: int, now: datetime | None,
                      keep: list[ColumnElement[bool]]) -> list[Claim]:
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
                    self.sql.lock_caps(conn)
                    claimed = self._claim_within_caps(conn, worker_id, limit, now, keep)
                    if claimed:
                        store.mark_claimed(conn, self.sql, claimed, worker_id,
                                           self._at(now))
            finally:
                self.sql.unlock_caps(conn)
        return [Claim(pid, n, worker_id) for pid, n in claimed]

    def _claim_within_caps(self, conn: Connection, worker_id: str, limit: int,
                           now: datetime | None, keep: list[ColumnElement[bool]]
                           ) -> list[tuple[str, int]]:
        busy = store.in_flight_per_platform(conn)
        room = {p: cap - busy.get(p, 0) for p, cap in self.caps.items()}
        at, until = self._at(now), self._at(now, self.lease)
        claimed = store.claim_due(conn, self.sql, worker_id=worker_id, limit=limit, now=at,
                                  lease_until=until, platforms=(False, list(self.caps)),
                                  posts_where=keep)
        for platform, free in room.items():
            got = store.claim_due(conn, self.sql, worker_id=worker_id,
                                  limit=min(free, limit - len(claimed)), now=at,
                                  lease_until=until, platforms=(True, [platform]),
                                  posts_where=keep)
            claimed += got
            room[platform] = free - len(got)
        self.capped = any(free <= 0 for free in room.values())
        return claimed

    def heartbeat(self, *, worker_id: str, now: datetime | None = None) -> int:
        """Extend every lease this worker holds (to the database's time + the lease);
        returns how many it still holds."""
        with self.engine.begin() as conn:
            return store.extend_leases(conn, worker_id=worker_id,
                                       until=self._at(now, self.lease))

    def record_phase(self, claim: Claim, *, phase: Phase | str, ids: dict[str, Any],
                     check_cancel: bool = False, check_lease: bool = False) -> None:
        # MariaDB may pick this short transaction as a deadlock victim against a batch
        # write; it holds nothing worth keeping, so run it again.
        for attempt in (1, 2, 3):
            try:
                return self._record_phase(claim, phase=phase, ids=ids,
                                          check_cancel=check_cancel,
                                          check_lease=check_lease or check_cancel)
            except OperationalError as exc:
                if attempt == 3 or not self.sql.is_deadlock(exc):
                    raise

    def _record_phase(self, claim: Claim, *, phase: Phase | str, ids: dict[str, Any],
                      check_cancel: bool, check_lease: bool) -> None:
        """Journal progress of an attempt: the phase reached and the platform ids so far.

        `ids` holds everything the attempt has obtained so far: it replaces what an earlier
        call for the same attempt recorded (only the attempt's holder writes its row).
        With `check_cancel` (just before the commit) it raises LeaseLost when this worker
        no longer holds the post, and CancelRequested when the post was cancelled
        meanwhile. The post row is locked while this transaction reads it, so a cancel
        lands either before (and is honoured) or after "committing" is on record (and the
        post, once out, stays published). `check_lease` alone (before a first comment)
        checks and renews the lease but honours no cancel: the post is out already.
        """
        with self.engine.begin() as conn:
            if check_lease:
                # Still ours? A worker whose lease was rescued (it stalled, or the database
                # was away longer than the lease) must not commit: the rescuer may have.
                # The fresh lease is for the commit: the holder is alive right now, and a
                # rescue while its call is in flight is what could post twice.
                if not store.renew_if_held(conn, claim, until=self._at(None, self.lease)):
                    raise LeaseLost(claim.post_id)
                if check_cancel and store.cancel_requested(conn, claim.post_id):
                    raise CancelRequested(claim.post_id)  # the renewal rolls back with it
            store.write_phase(conn, claim, phase=phase, ids=ids)

    def histories(self, post_ids: Sequence[str]) -> dict[str, History]:
        """What earlier attempts recorded, per post (herald.queue.journal).

        `final_check` marks a post given one last, reconcile-only attempt after its
        worker stopped MAX_RESCUES times mid-commit (see rescue_expired).
        """
        if not post_ids:
            return {}
        with self.reader.connect() as conn:
            rows = store.journal_rows(conn, post_ids)
            final = [pid for pid, n in store.rescue_counts(conn, post_ids).items()
                     if policy.is_final_check(n)]
        return read_histories(rows, final_check=final)

    def finish(self, outcomes: Sequence[Outcome], *, now: datetime) -> list[Outcome]:
        """Apply outcomes in one transaction; returns those applied.

        An outcome whose claim is no longer held (rescued, cancelled, re-claimed) is
        dropped: the lease moved on, so this worker's word no longer counts.
        """
        if not outcomes:
            return []
        unreachable = [o for o in outcomes if o.unreachable]
        if unreachable:
            with self.reader.connect() as conn:
                where = store.accounts_of(conn, self.sql, [o.claim.post_id for o in unreachable])
            health.ensure_rows(self.engine, [
                health.Event(*where[o.claim.post_id], o.claim.post_id, failure=True)
                for o in unreachable if o.claim.post_id in where], now=now)
        with self.engine.begin() as conn:
            held = endings.held_rows(conn, self.sql, outcomes)
            applied = [o for o in outcomes if o.claim.post_id in held
                       and held[o.claim.post_id].attempt == o.claim.attempt]
            retries: list[dict[str, Any]] = []
            finals: list[dict[str, Any]] = []
            journal: list[dict[str, Any]] = []
            for o in applied:
                row = held[o.claim.post_id]
                decision = policy.decide(o, row, now=now, retry=self.retry)
                journal.append(_journal_row(o, row, decision, now))
                if decision.kind == AttemptOutcome.RETRY:
                    retries.append(dict(b_post=o.claim.post_id, run_at=decision.run_at,
                                        error_message=decision.message,
                                        attempts=row.attempt,
                                        max_attempts=decision.max_attempts,
                                        retry_deadline=decision.deadline))
                else:
                    finals.append(_final_row(o, row, decision, now))
            endings.write_journal(conn, self.sql, journal)
            endings.write_retries(conn, self.sql, retries, now)
            endings.write_finals(conn, self.sql, finals, now)
            # After the queue rows (held_rows locked them): see health.py's lock order.
            self._count_health(conn, applied, held, now)
        return applied

    def _count_health(self, conn: Connection, applied: Sequence[Outcome],
                      held: Mapping[str, policy.Held], now: datetime) -> None:
        events = [health.Event(row.platform, row.account_id, o.claim.post_id,
                               failure=o.unreachable, reason=o.error_message)
                  for o in applied if (row := held[o.claim.post_id]).platform
                  and (o.unreachable or o.kind == AttemptOutcome.PUBLISHED)]
        went_down, came_back = health.record(conn, events, now=now, rules=self.outage)
        for scope in went_down:
            log.warning("%s is held as down: %d calls in a row could not reach it; its "
                        "posts wait, one probes every %.0fs", scope, self.outage.failures,
                        self.outage.probe_seconds)
        for scope in came_back:
            log.warning("%s answers again: its waiting posts are released", scope)
        if came_back:
            self.sql.notify(conn)

    def release(self, claims: Sequence[Claim], *, now: datetime,
                status: QueueStatus = QueueStatus.PENDING) -> int:
        """Hand back claims this worker never started (graceful shutdown; `held` for the
        posts of an account whose queue was paused)."""
        with self.engine.begin() as conn:
            released = sum(endings.release_claim(conn, c, now=now, status=status)
                           for c in claims)
            if released:
                self.sql.notify(conn)
        return released

    def rescue_expired(self, *, now: datetime | None = None, limit: int = 500) -> int:
        """Return posts whose lease ran out to the queue (or fail them past MAX_RESCUES).

        Run out by the database's clock unless `now` is given.

        The next claim sees the expired attempt in the journal and reconciles before it
        sends anything again, so a post that went out just before its worker died is
        not posted twice.
        """
        at = self._at(now)
        with self.engine.begin() as conn:
            expired = endings.expired_leases(conn, self.sql, now=at, limit=limit)
            if not expired:
                return 0
            at_limit = policy.needs_history(expired)
            known = read_histories(store.journal_rows(conn, at_limit)) if at_limit else {}
            rescue = policy.decide_rescue(expired, known)
            _apply_rescue(conn, rescue, at)
            endings.expire_attempts(conn, [e.post_id for e in expired], now=at)
            self.sql.notify(conn)
            return len(expired)

    def stats(self, *, now: datetime, since: datetime) -> dict[str, Any]:
        """The seed's monitoring queries, in one place."""
        with self.reader.connect() as conn:
            return stats(conn, now=now, since=since)


def _journal_row(o: Outcome, row: policy.Held, decision: policy.Decision,
                 now: datetime) -> dict[str, Any]:
    return dict(
        b_post=o.claim.post_id, b_attempt=row.attempt, finished_at=now,
        outcome=decision.kind, error_code=o.error_code, error_message=decision.message,
        **({"phase": o.phase} if o.phase else {}),
        **({"platform_ids": o.platform_ids} if o.platform_ids else {}),
    )


def _final_row(o: Outcome, row: policy.Held, decision: policy.Decision,
               now: datetime) -> dict[str, Any]:
    return dict(
        b_post=o.claim.post_id, post_status=decision.post_status,
        queue_status=decision.queue_status, external_post_id=o.external_id,
        permalink=o.permalink, error_message=decision.message, attempts=row.attempt,
        published_at=now if decision.kind == AttemptOutcome.PUBLISHED else None,
        follow_up=o.follow_up and decision.kind == AttemptOutcome.PUBLISHED,
        comment=_comment_event(o),
    )


def _comment_event(o: Outcome) -> str | None:
    """The first comment's event, if this attempt posted it or tried and failed."""
    if o.kind != AttemptOutcome.PUBLISHED:
        return None
    if o.platform_ids.get("first_comment_id"):
        return EventType.COMMENT_PUBLISHED
    if o.platform_ids.get("first_comment_error"):
        return EventType.COMMENT_FAILED
    return None


def _apply_rescue(conn: Connection, rescue: policy.Rescue, now: endings.When) -> None:
    for ids, counted in ((rescue.requeue, False), (rescue.requeue_counted, True)):
        if ids:
            endings.requeue_rescued(conn, ids, counted=counted, now=now)
    if rescue.back:
        endings.posts_back_to_pending(conn, rescue.back, now=now)
    if rescue.dead:
        endings.give_up_rescued(conn, rescue.dead, now=now)
    # One that died mid-commit may be out: say so rather than "failed".
    for status, ids, note in (
        (PostStatus.UNCONFIRMED, rescue.unconfirmed, policy.WORKERS_STOPPED_MID_COMMIT),
        (PostStatus.FAILED, rescue.failed, policy.WORKERS_STOPPED),
    ):
        if ids:
            endings.settle_rescued(conn, ids, status=status, message=note, now=now)
