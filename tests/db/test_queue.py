from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from herald import queue as q
from herald.models import Post, PostSchedule, PublishAttempt, utcnow
from herald.queue import Outcome, backoff_seconds
from tests.helpers import add_account, add_posts, make_due


def _queue(herald, **kw):
    return q.Queue(herald.db.engine, lease_seconds=kw.pop("lease", 30), rand=lambda: 0.5, **kw)


def _row(herald, post_id):
    with herald.db.session() as s:
        return s.get(PostSchedule, post_id), s.get(Post, post_id)


def test_claim_takes_due_posts_oldest_first_and_leaves_future_ones(herald, company):
    account = add_account(herald, company[0])
    later = add_posts(herald, company[0], account, 2,
                      run_at=utcnow() + timedelta(hours=1))
    due = add_posts(herald, company[0], account, 3, run_at=utcnow() + timedelta(hours=2))
    make_due(herald, due)
    claims = _queue(herald).claim(worker_id="w1", limit=10, now=utcnow())
    assert sorted(c.post_id for c in claims) == sorted(due)
    assert all(c.attempt == 1 for c in claims)
    entry, post = _row(herald, due[0])
    assert (entry.status, entry.worker_id, post.status) == ("processing", "w1", "processing")
    assert _row(herald, later[0])[0].status == "pending"


def test_two_workers_never_claim_the_same_post(herald, company):
    account = add_account(herald, company[0])
    ids = add_posts(herald, company[0], account, 500)
    make_due(herald, ids)
    queue = _queue(herald)
    got: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while True:
                claims = queue.claim(worker_id=name, limit=7, now=utcnow())
                if not claims:
                    return
                got[name] += [c.post_id for c in claims]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    everything = got["a"] + got["b"]
    assert len(everything) == len(set(everything)) == 500
    with herald.db.session() as s:
        owners = dict(s.execute(select(PostSchedule.post_id, PostSchedule.worker_id)).all())
    assert all(owners[pid] == "a" for pid in got["a"])
    assert all(owners[pid] == "b" for pid in got["b"])


def test_finish_publishes_and_journals(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    queue = _queue(herald)
    [claim] = queue.claim(worker_id="w1", limit=5, now=utcnow())
    applied = queue.finish([Outcome(claim, "published", external_id="fb_1",
                                    permalink="https://fb/1", phase="committed")], now=utcnow())
    assert len(applied) == 1
    entry, post = _row(herald, pid)
    assert (entry.status, post.status, post.external_post_id, post.attempts) == (
        "done", "published", "fb_1", 1)
    with herald.db.session() as s:
        attempt = s.scalars(select(PublishAttempt)).one()
    assert (attempt.outcome, attempt.phase, attempt.worker_id) == ("published", "committed", "w1")


def test_expired_lease_is_rescued_and_the_old_worker_cannot_finish(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    queue = _queue(herald, lease=5)
    now = utcnow()
    [old] = queue.claim(worker_id="crashed", limit=1, now=now)
    # The worker died: no heartbeat. Before the lease ends nothing is rescued…
    assert queue.rescue_expired(now=now + timedelta(seconds=4)) == 0
    # …after it, the post is back in the queue for anyone.
    assert queue.rescue_expired(now=now + timedelta(seconds=6)) == 1
    entry, post = _row(herald, pid)
    assert (entry.status, entry.worker_id, post.status) == ("pending", None, "pending")
    [new] = queue.claim(worker_id="rescuer", limit=1, now=now + timedelta(seconds=7))
    assert new.attempt == 2
    # The old worker wakes up and reports success: its word no longer counts.
    assert queue.finish([Outcome(old, "published", external_id="late")], now=utcnow()) == []
    assert queue.finish([Outcome(new, "published", external_id="ok")], now=utcnow()) != []
    assert _row(herald, pid)[1].external_post_id == "ok"
    with herald.db.session() as s:
        outcomes = [a.outcome for a in s.scalars(
            select(PublishAttempt).order_by(PublishAttempt.attempt))]
    assert outcomes == ["lease_expired", "published"]


def test_heartbeat_keeps_the_lease(herald, company):
    account = add_account(herald, company[0])
    add_posts(herald, company[0], account)
    queue = _queue(herald, lease=5)
    now = utcnow()
    queue.claim(worker_id="w1", limit=1, now=now)
    assert queue.heartbeat(worker_id="w1", now=now + timedelta(seconds=4)) == 1
    assert queue.rescue_expired(now=now + timedelta(seconds=6)) == 0
    assert queue.heartbeat(worker_id="someone-else", now=now) == 0


def _lose_leases(herald, pid, *, phase: str | None, times: int, later: float = 0):
    queue = _queue(herald, lease=1)
    now = utcnow() + timedelta(seconds=later)
    for i in range(times):
        t = now + timedelta(seconds=10 * i)
        [claim] = queue.claim(worker_id=f"w{i}", limit=1, now=t)
        if phase:
            queue.record_phase(claim, phase=phase, ids={})
        assert queue.rescue_expired(now=t + timedelta(seconds=2)) == 1
    return _row(herald, pid)


def test_a_post_that_keeps_losing_its_worker_fails(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    entry, post = _lose_leases(herald, pid, phase="prepared", times=q.MAX_RESCUES)
    assert (entry.status, post.status) == ("failed", "failed")
    assert "stopped 3 times" in post.error_message


def test_a_post_lost_mid_commit_at_the_limit_gets_one_final_check(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    entry, post = _lose_leases(herald, pid, phase="committing", times=q.MAX_RESCUES)
    assert (entry.status, post.status) == ("pending", "pending")
    history = _queue(herald).histories([pid])[pid]
    assert history.final_check is True and history.unsettled_commit is True


def test_a_post_lost_mid_commit_past_the_limit_is_unconfirmed_not_failed(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    _, post = _lose_leases(herald, pid, phase="committing", times=q.MAX_RESCUES + 1)
    assert post.status == "unconfirmed"
    assert "may be live" in post.error_message


def test_a_post_lost_after_an_unsettled_commit_is_never_failed(herald, company):
    """Died mid-commit once, then twice while checking: it may be out, so not `failed`."""
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    _lose_leases(herald, pid, phase="committing", times=1)
    _, post = _lose_leases(herald, pid, phase="prepared", times=q.MAX_RESCUES, later=60)
    assert post.status == "unconfirmed"


def test_leases_lost_before_publishing_started_do_not_count(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    entry, post = _lose_leases(herald, pid, phase=None, times=q.MAX_RESCUES + 2)
    assert (entry.status, post.status, entry.rescues) == ("pending", "pending", 0)


def test_an_unsettled_commit_stays_unsettled_until_an_attempt_gets_past_it(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    queue = _queue(herald, lease=1)
    now = utcnow()
    # Attempt 1 dies mid-commit; attempt 2 dies while reconciling (phase still "claimed").
    [c1] = queue.claim(worker_id="a", limit=1, now=now)
    queue.record_phase(c1, phase="committing", ids={"committing_at": "x"})
    queue.rescue_expired(now=now + timedelta(seconds=2))
    [c2] = queue.claim(worker_id="b", limit=1, now=now + timedelta(seconds=3))
    queue.rescue_expired(now=now + timedelta(seconds=5))
    assert queue.histories([pid])[pid].unsettled_commit is True
    # Attempt 3 reconciles and goes on to its own commit, which is refused outright.
    [c3] = queue.claim(worker_id="c", limit=1, now=now + timedelta(seconds=6))
    queue.record_phase(c3, phase="committing", ids={})
    queue.finish([Outcome(c3, "retry", phase="refused")], now=now + timedelta(seconds=7))
    assert queue.histories([pid])[pid].unsettled_commit is False
    assert c2.attempt == 2


def test_a_worker_that_lost_its_lease_cannot_record_a_commit(herald, company):
    account = add_account(herald, company[0])
    add_posts(herald, company[0], account)
    queue = _queue(herald, lease=1)
    now = utcnow()
    [stale] = queue.claim(worker_id="slow", limit=1, now=now)
    queue.rescue_expired(now=now + timedelta(seconds=2))
    queue.claim(worker_id="rescuer", limit=1, now=now + timedelta(seconds=3))
    import pytest

    with pytest.raises(q.LeaseLost):
        queue.record_phase(stale, phase="committing", ids={}, check_cancel=True)


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    values = [backoff_seconds(n, base=10, cap=300, rand=lambda: 1.0) for n in range(1, 8)]
    assert values[:5] == [10, 20, 40, 80, 160]
    assert values[5:] == [300, 300]
    assert backoff_seconds(3, base=10, cap=300, rand=lambda: 0.0) == 20  # half the ceiling


def test_retry_backs_off_then_fails_once_attempts_and_time_are_spent(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    queue = q.Queue(herald.db.engine, retry_base_seconds=10, retry_max_seconds=1000,
                    retry_budget_seconds=35, rand=lambda: 1.0)
    start = now = utcnow()
    delays = []
    for attempt in (1, 2, 3):
        [claim] = queue.claim(worker_id="w", limit=1, now=now)
        queue.finish([Outcome(claim, "retry", error_message="HTTP 503")], now=now)
        entry, post = _row(herald, pid)
        assert (entry.status, post.status, post.attempts) == ("pending", "pending", attempt)
        # The budget started at the first retry; the third attempt is still within it.
        assert entry.retry_deadline == start + timedelta(seconds=35)
        delays.append((entry.run_at - now).total_seconds())
        now = entry.run_at
    assert delays == [10, 20, 40]
    [claim] = queue.claim(worker_id="w", limit=1, now=now)
    queue.finish([Outcome(claim, "retry", error_message="HTTP 503")], now=now)
    entry, post = _row(herald, pid)
    assert (entry.status, post.status) == ("failed", "failed")
    assert post.error_message == "HTTP 503 (gave up after 4 attempts over 70 s)"


def test_an_attempt_that_could_not_reach_the_platform_gives_its_count_back(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    queue = q.Queue(herald.db.engine, retry_unreachable_seconds=2, rand=lambda: 1.0)
    now = utcnow()
    [claim] = queue.claim(worker_id="w", limit=1, now=now)
    queue.finish([Outcome(claim, "retry", error_message="HTTP 503", unknown=True,
                          unreachable=True)], now=now)
    entry, _ = _row(herald, pid)
    assert (entry.status, entry.attempts, entry.max_attempts) == ("pending", 1, 4)
    assert (entry.run_at - now).total_seconds() == 2
    assert entry.retry_deadline == now + timedelta(hours=6)


def test_a_person_retrying_a_failed_post_gives_it_a_fresh_time_budget(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    queue = q.Queue(herald.db.engine, retry_budget_seconds=0)
    now = utcnow()
    for _ in range(3):
        [claim] = queue.claim(worker_id="w", limit=1, now=now)
        queue.finish([Outcome(claim, "retry", error_message="HTTP 503")], now=now)
        now = _row(herald, pid)[0].run_at
    assert _row(herald, pid)[0].status == "failed"
    with herald.db.engine.begin() as conn:
        assert q.requeue(conn, post_id=pid, now=now, extra_attempts=3)
    entry, _ = _row(herald, pid)
    assert (entry.status, entry.retry_deadline, entry.max_attempts) == ("pending", None, 6)


def test_retry_honours_the_platforms_not_before(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    queue = _queue(herald)
    now = utcnow()
    [claim] = queue.claim(worker_id="w", limit=1, now=now)
    later = now + timedelta(minutes=30)
    queue.finish([Outcome(claim, "retry", not_before=later)], now=now)
    assert _row(herald, pid)[0].run_at == later


def test_release_hands_back_unstarted_claims(herald, company):
    account = add_account(herald, company[0])
    ids = add_posts(herald, company[0], account, 3)
    queue = _queue(herald)
    claims = queue.claim(worker_id="w", limit=3, now=utcnow())
    assert queue.release(claims, now=utcnow()) == 3
    for pid in ids:
        entry, post = _row(herald, pid)
        assert (entry.status, entry.attempts, post.status) == ("pending", 0, "pending")
    with herald.db.session() as s:
        assert s.scalars(select(PublishAttempt)).all() == []


def test_the_next_due_is_the_earliest_pending_run_at(herald, company):
    account = add_account(herald, company[0])
    queue = _queue(herald)
    assert queue.horizon().due is None
    soon = utcnow() + timedelta(minutes=5)
    add_posts(herald, company[0], account, run_at=soon + timedelta(minutes=5))
    add_posts(herald, company[0], account, run_at=soon)
    assert abs((queue.horizon().due - soon).total_seconds()) < 0.001


def test_the_horizon_is_the_next_due_post_and_the_first_lease_to_run_out(herald, company):
    account = add_account(herald, company[0])
    queue = _queue(herald, lease=30)
    empty = queue.horizon()
    assert (empty.due, empty.lease) == (None, None)
    assert empty.now is not None  # the database's time (herald.dbclock)
    soon = utcnow() + timedelta(minutes=5)
    add_posts(herald, company[0], account, run_at=soon)
    add_posts(herald, company[0], account, run_at=soon + timedelta(minutes=5))
    at = soon + timedelta(seconds=1)
    assert len(queue.claim(worker_id="w1", limit=1, now=at)) == 1
    horizon = queue.horizon()
    assert horizon.due is not None and horizon.lease is not None
    assert abs((horizon.due - soon - timedelta(minutes=5)).total_seconds()) < 0.001
    assert abs((horizon.lease - at - timedelta(seconds=30)).total_seconds()) < 0.001


def test_stats_count_the_seed_monitoring_figures(herald, company):
    account = add_account(herald, company[0])
    ids = add_posts(herald, company[0], account, 3)
    queue = _queue(herald, lease=1)
    now = utcnow()
    claims = queue.claim(worker_id="w", limit=2, now=now)
    queue.finish([Outcome(claims[0], "published", external_id="x")], now=now)
    stats = queue.stats(now=now + timedelta(seconds=5), since=now - timedelta(days=1))
    assert stats["due_now"] == 1
    assert stats["processing"] == 1
    assert stats["expired_leases"] == 1
    assert stats["published_today"] == 1
    assert stats["processing_per_worker"] == {"w": 1}
    assert len(ids) == 3


def test_journaling_the_commit_renews_the_lease(herald, company):
    """The holder is alive when it journals "committing": a rescue during its call would
    let another worker post while the call may still land."""
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    now = utcnow()
    [claim] = _queue(herald, lease=1).claim(worker_id="w", limit=1, now=now)
    _queue(herald, lease=30).record_phase(claim, phase="committing", ids={},
                                          check_cancel=True)
    assert _queue(herald).rescue_expired(now=now + timedelta(seconds=5)) == 0
    entry, _ = _row(herald, pid)
    assert entry.lease_expires_at > now + timedelta(seconds=25)


def _platform_in_flight(herald, platform):
    with herald.db.session() as s:
        return len(s.execute(
            select(PostSchedule.post_id).join(Post, Post.id == PostSchedule.post_id)
            .where(PostSchedule.status == "processing", Post.platform == platform)).all())


def test_platform_caps_count_every_workers_posts_in_flight(herald, company):
    page = add_account(herald, company[0], "facebook", "page-1")
    member = add_account(herald, company[0], "linkedin", "urn:li:person:abc")
    add_posts(herald, company[0], page, count=6)
    add_posts(herald, company[0], member, count=2)
    first, second = (_queue(herald, platform_caps={"facebook": 3}) for _ in range(2))
    now = utcnow() + timedelta(seconds=1)
    claims = first.claim(worker_id="w1", limit=10, now=now)
    assert len(claims) == 5  # 3 Facebook (the cap) and both LinkedIn posts
    assert _platform_in_flight(herald, "facebook") == 3 and first.capped
    # Another worker finds the Facebook cap full: nothing for it yet.
    assert second.claim(worker_id="w2", limit=10, now=now) == []
    assert second.capped
    done = next(c for c in claims if _row(herald, c.post_id)[1].platform == "facebook")
    first.finish([Outcome(done, "published", external_id="x")], now=now)
    assert len(second.claim(worker_id="w2", limit=10, now=now)) == 1
    assert _platform_in_flight(herald, "facebook") == 3


def test_concurrent_claimers_never_go_past_a_cap(herald, company):
    page = add_account(herald, company[0], "facebook", "page-1")
    add_posts(herald, company[0], page, count=40)
    now = utcnow() + timedelta(seconds=1)
    claimed: list[int] = []
    errors: list[BaseException] = []

    def claimer(n):
        queue = _queue(herald, platform_caps={"facebook": 5})
        try:
            for _ in range(5):
                claimed.append(len(queue.claim(worker_id=f"w{n}", limit=2, now=now)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(claimed) == 5 == _platform_in_flight(herald, "facebook")


def test_platform_caps_are_checked_in_the_settings():
    import pytest
    from pydantic import ValidationError

    from herald.config import Settings

    for caps in ({"myspace": 3}, {"instagram": 0}):
        with pytest.raises(ValidationError):
            Settings(database_url="sqlite:///x.db", platform_concurrency=caps)


def test_only_a_commit_whose_worker_stopped_mid_call_counts_as_cut_off(herald, company):
    """A commit answered with an error is over; one whose worker died may still land."""
    account = add_account(herald, company[0])
    [answered, cut] = add_posts(herald, company[0], account, count=2)
    queue = _queue(herald, lease=1)
    now = utcnow() + timedelta(seconds=1)
    claims = {c.post_id: c for c in queue.claim(worker_id="a", limit=2, now=now)}
    for claim in claims.values():
        queue.record_phase(claim, phase="committing", ids={"committing_at": "t"})
    queue.finish([Outcome(claims[answered], "retry", unknown=True, phase="committing")],
                 now=now)
    queue.rescue_expired(now=now + timedelta(seconds=2))  # `cut`'s worker is gone
    # The next attempt at `answered` dies while reconciling: its commit is still answered.
    later = now + timedelta(seconds=60)
    [again] = [c for c in queue.claim(worker_id="b", limit=2, now=later)
               if c.post_id == answered]
    queue.rescue_expired(now=later + timedelta(seconds=2))
    history = queue.histories([answered, cut])
    assert history[answered].unsettled_commit and not history[answered].commit_cut_off
    assert history[cut].unsettled_commit and history[cut].commit_cut_off
    assert again.attempt == 2


def test_an_insert_into_the_queue_notifies_listeners_on_postgresql(herald, company):
    """The statement trigger of migration 0005 sends the NOTIFY, for Herald's enqueue and
    for an insert made outside it alike; none before the transaction commits."""
    if herald.db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    import psycopg

    account = add_account(herald, company[0])
    url = herald.db.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False),
                         autocommit=True) as listener:
        listener.execute(f"LISTEN {q.NOTIFY_CHANNEL}")
        [post_id] = add_posts(herald, company[0], account, 1)
        assert [n.channel for n in listener.notifies(timeout=5, stop_after=1)] == [
            q.NOTIFY_CHANNEL]
        with herald.db.engine.begin() as conn:
            conn.execute(PostSchedule.__table__.delete().where(
                PostSchedule.post_id == post_id))
            conn.execute(PostSchedule.__table__.insert().values(
                post_id=post_id, run_at=utcnow(), status="pending", attempts=0,
                max_attempts=3, rescues=0, created_at=utcnow(), updated_at=utcnow()))
            assert list(listener.notifies(timeout=0.5, stop_after=1)) == []
        assert len(list(listener.notifies(timeout=5, stop_after=1))) == 1


def test_among_matches_exactly_the_ids_given_with_one_statement_text_on_postgresql(
        herald, company):
    account = add_account(herald, company[0])
    ids = add_posts(herald, company[0], account, 5)
    dialect = herald.db.dialect
    with herald.db.engine.connect() as conn:
        got = conn.execute(select(Post.id).where(q.among(Post.__table__.c.id,
                                                         [ids[0], ids[3], "no-such-post"],
                                                         dialect))).scalars().all()
    assert sorted(got) == sorted([ids[0], ids[3]])
    if dialect == "postgresql":
        # The point of it: the text, which psycopg caches and prepares, is the same
        # whatever the batch size (an IN list has a placeholder per id).
        def sql(n: int) -> str:
            stmt = select(Post.id).where(q.among(Post.__table__.c.id, ids[:n], dialect))
            return str(stmt.compile(herald.db.engine,
                                    compile_kwargs={"render_postcompile": True}))
        assert sql(1) == sql(5)
