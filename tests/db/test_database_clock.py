"""Due times and leases by the database's clock (herald.dbclock), on every engine.

The claim, the heartbeat and the rescue sweep carry the database's `now` in their
statements; `now` passed by a caller (the other queue tests) replaces it. The worker
judges what is due from the time its poll read, whatever its host's clock says
(tests/process/test_clock_skew.py runs one under a shifted clock).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, timedelta

from sqlalchemy import select

from herald import dbclock
from herald import queue as q
from herald.app import build_worker
from herald.models import PostSchedule, PublishAttempt, utcnow
from tests.helpers import add_account, add_posts


def _queue(herald, lease=30):
    return q.Queue(herald.db.engine, lease_seconds=lease, rand=lambda: 0.5)


def _db_now(herald):
    with herald.db.engine.connect() as conn:
        return dbclock.read_now(conn)


def _set(herald, post_ids, **seconds_from_now):
    """Set time columns of queue rows to the database's now + the given seconds."""
    dialect = herald.db.dialect
    with herald.db.engine.begin() as conn:
        conn.execute(q.schedule.update().where(q.schedule.c.post_id.in_(post_ids)).values(
            **{col: dbclock.later_sql(dialect, s) for col, s in seconds_from_now.items()}))


def _entry(herald, post_id):
    with herald.db.session() as s:
        return s.get(PostSchedule, post_id)


def test_the_database_tells_its_time_in_utc(herald):
    before = utcnow()
    now = _db_now(herald)
    after = utcnow()
    assert now.tzinfo is UTC
    # The test's servers run on this host: their clock is this one, to the millisecond
    # SQLite keeps (and a little rounding).
    assert before - timedelta(milliseconds=5) <= now <= after + timedelta(milliseconds=5)
    later = _db_now(herald)
    assert later >= now


def test_an_expression_later_than_now_is_that_much_later(herald):
    with herald.db.engine.connect() as conn:
        now, later = conn.execute(select(dbclock.now_sql(herald.db.dialect),
                                         dbclock.later_sql(herald.db.dialect, 90.5))).one()
    assert abs((later - now).total_seconds() - 90.5) < 0.01


def test_a_claim_takes_what_is_due_by_the_database_clock(herald, company):
    account = add_account(herald, company[0])
    due, soon, later = (add_posts(herald, company[0], account, run_at=utcnow()
                                  + timedelta(hours=1))[0] for _ in range(3))
    _set(herald, [due], run_at=-1)
    _set(herald, [soon], run_at=3)
    _set(herald, [later], run_at=60)
    queue = _queue(herald, lease=30)
    claims = queue.claim(worker_id="w1", limit=10)
    assert [c.post_id for c in claims] == [due]
    # The lease and the journal's start are the database's time too.
    entry = _entry(herald, due)
    start = _db_now(herald)
    assert abs((entry.lease_expires_at - start).total_seconds() - 30) < 2
    assert abs((entry.locked_at - start).total_seconds()) < 2
    with herald.db.session() as s:
        attempt = s.scalars(select(PublishAttempt).where(PublishAttempt.post_id == due)).one()
    assert abs((attempt.started_at - start).total_seconds()) < 2
    # Due three seconds later by the database's clock: claimed then, not before.
    deadline = time.monotonic() + 20
    while not (claims := queue.claim(worker_id="w1", limit=10)):
        assert time.monotonic() < deadline, "never claimed"
        time.sleep(0.1)
    assert [c.post_id for c in claims] == [soon]
    assert _db_now(herald) >= _entry(herald, soon).run_at


def test_a_heartbeat_extends_leases_from_the_database_clock(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    _set(herald, [pid], run_at=-1)
    queue = _queue(herald, lease=45)
    queue.claim(worker_id="w1", limit=1)
    _set(herald, [pid], lease_expires_at=1)
    assert queue.heartbeat(worker_id="w1") == 1
    lease = _entry(herald, pid).lease_expires_at
    assert abs((lease - _db_now(herald)).total_seconds() - 45) < 2


def test_the_rescue_sweep_leaves_live_leases_and_takes_lapsed_ones(herald, company):
    account = add_account(herald, company[0])
    live, lapsed = add_posts(herald, company[0], account, 2)
    _set(herald, [live, lapsed], run_at=-1)
    queue = _queue(herald, lease=30)
    assert len(queue.claim(worker_id="w1", limit=2)) == 2
    _set(herald, [live], lease_expires_at=5)
    _set(herald, [lapsed], lease_expires_at=-0.5)
    assert queue.rescue_expired() == 1
    assert (_entry(herald, live).status, _entry(herald, lapsed).status) == (
        "processing", "pending")
    rescued = _entry(herald, lapsed)
    # Back in the queue at the database's time: due now, for the reconciling attempt.
    assert abs((rescued.run_at - _db_now(herald)).total_seconds()) < 2


def test_a_caller_given_time_replaces_the_database_clock(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account, run_at=utcnow() + timedelta(hours=1))
    queue = _queue(herald, lease=30)
    assert queue.claim(worker_id="w1", limit=1) == []
    at = utcnow() + timedelta(hours=2)
    [claim] = queue.claim(worker_id="w1", limit=1, now=at)
    assert claim.post_id == pid
    assert _entry(herald, pid).lease_expires_at == at + timedelta(seconds=30)
    assert queue.rescue_expired() == 0  # alive by the database's clock: an hour to go
    assert queue.rescue_expired(now=at + timedelta(seconds=31)) == 1


async def test_a_worker_whose_host_clock_runs_ahead_publishes_nothing_early(herald, company):
    account = add_account(herald, company[0])
    publisher = herald.registry.get("facebook")
    ahead = timedelta(seconds=30)
    worker = build_worker(herald, worker_id="ahead", clock=lambda: utcnow() + ahead)
    task = asyncio.create_task(worker.run())
    try:
        run_at = utcnow() + timedelta(seconds=1.5)
        ids = await asyncio.to_thread(add_posts, herald, company[0], account, 3,
                                      run_at=run_at)
        deadline = time.monotonic() + 15
        while len(publisher.calls) < 3:
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await task
    assert sorted(job.post_id for job, _ in publisher.calls) == sorted(ids)
    assert all(called_at >= run_at for _, called_at in publisher.calls)
    # It knows how far its host is off, and writes the database's times.
    assert abs((worker.db_now() - utcnow()).total_seconds()) < 1
