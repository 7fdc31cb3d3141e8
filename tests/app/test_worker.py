from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from herald.app import build_worker
from herald.models import Post, PostSchedule, SocialAccount, utcnow
from herald.platforms.base import (
    AccountPause,
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    PublishJob,
    PublishResult,
    RateLimitedError,
    TransientError,
)
from herald.worker import Wakeup
from tests.helpers import RecordingPublisher, add_account, add_posts


def _posts(herald, ids):
    with herald.db.session() as s:
        return {p.id: p for p in s.scalars(select(Post).where(Post.id.in_(ids)))}


async def _run_until(worker, predicate, timeout=15.0):
    task = asyncio.create_task(worker.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await asyncio.to_thread(predicate):
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await task


def _all_status(herald, ids, *statuses):
    return lambda: all(p.status in statuses for p in _posts(herald, ids).values())


@pytest.mark.all_engines
async def test_worker_publishes_due_posts_concurrently(herald, company):
    account = add_account(herald, company[0])
    ids = add_posts(herald, company[0], account, 20)
    publisher = herald.registry.get("facebook")
    publisher.delay = 0.2
    worker = build_worker(herald, worker_id="w1", concurrency=10, batch_size=5)
    await _run_until(worker, _all_status(herald, ids, "published"))
    posts = _posts(herald, ids)
    assert all(p.external_post_id for p in posts.values())
    assert sorted(publisher.published_ids()) == sorted(ids)
    # Counted, not timed (how fast is bench/'s to measure): calls overlapped, within the
    # concurrency asked for.
    assert 1 < publisher.most_in_flight <= 10
    assert worker.totals.published == 20


@pytest.mark.all_engines
async def test_worker_wakes_for_a_post_due_in_two_seconds(herald, company):
    account = add_account(herald, company[0])
    publisher = herald.registry.get("facebook")
    worker = build_worker(herald, worker_id="w1")
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.3)  # the worker is asleep on an empty queue
    run_at = utcnow() + timedelta(seconds=2)
    [pid] = await asyncio.to_thread(add_posts, herald, company[0], account, run_at=run_at)
    try:
        await asyncio.wait_for(publisher.started.wait(), 10)
    finally:
        worker.stop()
        await task
    [(job, called_at)] = publisher.calls
    assert job.post_id == pid
    # Never early. How late is bench/ontime.py's figure (a timed assertion here would
    # fail on a loaded machine, not on a slow worker).
    assert called_at >= run_at


async def test_in_process_wakeup_starts_a_post_due_now(herald, company):
    account = add_account(herald, company[0])
    wakeup = Wakeup()
    herald.queue_changed.connect(wakeup)
    worker = build_worker(herald, worker_id="w1", wakeup=wakeup, poll_interval=1.0,
                          listen=False)
    publisher = herald.registry.get("facebook")
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.3)
    await asyncio.to_thread(add_posts, herald, company[0], account)
    wakeup()
    try:
        await asyncio.wait_for(publisher.started.wait(), 10)
    finally:
        worker.stop()
        await task
    assert len(publisher.calls) == 1


async def test_graceful_shutdown_hands_back_unstarted_posts(herald, company):
    account = add_account(herald, company[0])
    ids = add_posts(herald, company[0], account, 6)
    publisher = herald.registry.get("facebook")
    publisher.delay = 0.5
    worker = build_worker(herald, worker_id="w1", concurrency=1, batch_size=5)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(publisher.started.wait(), 10)
    worker.stop()
    await task
    posts = _posts(herald, ids)
    published = [p for p in posts.values() if p.status == "published"]
    pending = [p for p in posts.values() if p.status == "pending"]
    # The one in flight finished within the grace period; the claimed-but-unstarted
    # ones went back to the queue untouched, with their attempt returned.
    assert len(published) == 1
    assert len(pending) == 5
    with herald.db.session() as s:
        entries = s.scalars(select(PostSchedule).where(PostSchedule.status == "pending")).all()
    assert {e.attempts for e in entries} == {0}
    assert all(e.worker_id is None for e in entries)


async def test_transient_error_is_retried_then_published(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    publisher = herald.registry.get("facebook")
    publisher.fail(pid, TransientError("Facebook had a hiccup (code 2)."))
    worker = build_worker(herald, worker_id="w1")
    await _run_until(worker, _all_status(herald, [pid], "published"))
    post = _posts(herald, [pid])[pid]
    assert post.attempts == 2
    assert [job.attempt for job, _ in publisher.calls] == [1, 2]


async def test_permanent_error_fails_at_once_with_the_platforms_message(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    herald.registry.get("facebook").fail(pid, PermanentError("The image is too large."))
    worker = build_worker(herald, worker_id="w1")
    await _run_until(worker, _all_status(herald, [pid], "failed"))
    post = _posts(herald, [pid])[pid]
    assert (post.error_message, post.attempts) == ("The image is too large.", 1)


@pytest.mark.all_engines
async def test_needs_reauth_fails_and_marks_the_account(herald, company):
    account = add_account(herald, company[0])
    ids = add_posts(herald, company[0], account, 1)
    herald.registry.get("facebook").fail(ids[0], NeedsReauthError("The token expired."))
    worker = build_worker(herald, worker_id="w1")
    await _run_until(worker, _all_status(herald, ids, "failed"))
    post = _posts(herald, ids)[ids[0]]
    assert "Reconnect the account" in post.error_message
    with herald.db.session() as s:
        acc = s.get(SocialAccount, account)
        assert acc.state == "needs_reauth"
    # Further posts of that account fail without calling the platform.
    [later] = add_posts(herald, company[0], account)
    calls = len(herald.registry.get("facebook").calls)
    worker = build_worker(herald, worker_id="w2")
    await _run_until(worker, _all_status(herald, [later], "failed"))
    assert len(herald.registry.get("facebook").calls) == calls
    assert "must be reconnected" in _posts(herald, [later])[later].error_message


async def test_outcome_unknown_becomes_unconfirmed_never_resent(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    herald.registry.get("facebook").fail(pid, OutcomeUnknownError("Timed out while posting."))
    worker = build_worker(herald, worker_id="w1")
    await _run_until(worker, _all_status(herald, [pid], "unconfirmed"))
    await asyncio.sleep(0.3)
    assert len(herald.registry.get("facebook").calls) == 1


@pytest.mark.all_engines
async def test_rate_limit_waits_for_retry_after_and_backs_off_the_account(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    herald.registry.get("facebook").fail(pid, RateLimitedError("Slow down.", retry_after=600))
    worker = build_worker(herald, worker_id="w1")
    await _run_until(worker, lambda: _posts(herald, [pid])[pid].attempts == 1)
    with herald.db.session() as s:
        entry = s.get(PostSchedule, pid)
        acc = s.get(SocialAccount, account)
    wait = (entry.run_at - utcnow()).total_seconds()
    assert 590 < wait <= 600
    assert acc.backoff_until is not None


async def test_a_pause_the_platform_advises_backs_the_account_off_whatever_the_outcome(
    herald, company, caplog
):
    """An error (here a refusal) may carry the platform's advice to keep the account away,
    as the Graph toolkit gives when Meta's usage nears the budget."""
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    refused = PermanentError("Refused.")
    refused.pause = AccountPause(1200, "usage at 96%")
    herald.registry.get("facebook").fail(pid, refused)
    worker = build_worker(herald, worker_id="w1")
    with caplog.at_level("WARNING", logger="herald.publishing"):
        await _run_until(worker, _all_status(herald, [pid], "failed"))
    with herald.db.session() as s:
        acc = s.get(SocialAccount, account)
    assert acc.backoff_until is not None
    # The advised 1200 s, not the post's own retry: a refusal sets no backoff of its own.
    assert 1100 < (acc.backoff_until - utcnow()).total_seconds() <= 1200
    assert "facebook usage at 96% for account facebook page-1; pausing it 1200s" \
        in caplog.messages


async def test_unexpected_exception_is_retried_not_lost(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    herald.registry.get("facebook").fail(pid, RuntimeError("bug"))
    worker = build_worker(herald, worker_id="w1")
    await _run_until(worker, _all_status(herald, [pid], "published"))


async def test_run_until_idle_publishes_everything_due_then_returns(herald, company):
    account = add_account(herald, company[0])
    ids = add_posts(herald, company[0], account, 12)
    future = add_posts(herald, company[0], account, run_at=utcnow() + timedelta(hours=1))
    worker = build_worker(herald, worker_id="cron", concurrency=4, batch_size=5)
    totals = await asyncio.wait_for(worker.run(until_idle=True), 30)
    assert totals.published == 12
    posts = _posts(herald, ids + future)
    assert posts[future[0]].status == "pending"


@pytest.mark.all_engines
async def test_a_throttled_account_does_not_hold_up_another(herald, company):
    throttled = add_account(herald, company[0], "facebook", "page-a")
    other = add_account(herald, company[0], "facebook", "page-b")
    [first, *rest] = add_posts(herald, company[0], throttled, 3)
    others = add_posts(herald, company[0], other, 3)
    publisher = herald.registry.get("facebook")
    publisher.fail(first, RateLimitedError("Page throttled (code 32).", retry_after=900))
    worker = build_worker(herald, worker_id="w1", concurrency=1, batch_size=1)
    await _run_until(worker, _all_status(herald, others, "published"))
    with herald.db.session() as s:
        held = [s.get(PostSchedule, pid) for pid in [first, *rest]]
        account = s.get(SocialAccount, throttled)
    # The throttled account's posts wait out the platform's 15 minutes…
    waiting = [e for e in held if e.status == "pending"]
    assert waiting and all((e.run_at - utcnow()).total_seconds() > 800 for e in waiting)
    assert account.backoff_until is not None
    # …and a post scheduled for it now waits too, without a call to the platform.
    [late] = add_posts(herald, company[0], throttled)
    with herald.db.session() as s:
        assert (s.get(PostSchedule, late).run_at - utcnow()).total_seconds() > 800


async def test_worker_survives_the_database_going_away(herald, company, monkeypatch):
    account = add_account(herald, company[0])
    worker = build_worker(herald, worker_id="w1")
    real_horizon = worker.queue.horizon
    calls = {"n": 0}

    def flaky() -> object:
        calls["n"] += 1
        if calls["n"] <= 3:
            from sqlalchemy.exc import OperationalError

            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return real_horizon()

    monkeypatch.setattr(worker.queue, "horizon", flaky)
    ids = add_posts(herald, company[0], account, 2)
    await _run_until(worker, _all_status(herald, ids, "published"), timeout=20)
    assert calls["n"] > 3


@pytest.mark.all_engines
async def test_an_idle_worker_sweeps_only_when_a_lease_can_have_run_out(
        herald, company, monkeypatch):
    """Each poll reads the earliest lease in flight: while none can have run out, the
    rescue sweep sends no query (an idle worker: one statement a poll); a lease that runs
    out is still rescued and its post published."""
    account = add_account(herald, company[0])
    # Polls every 0.2 s (no LISTEN: on PostgreSQL it would poll once a minute), sweeps
    # every 0.5 s.
    worker = build_worker(herald, worker_id="w1", listen=False)
    sweeps: list[object] = []
    real_sweep = worker.queue.rescue_expired

    def counted(**kwargs: object) -> int:
        sweeps.append(kwargs)
        return real_sweep(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(worker.queue, "rescue_expired", counted)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.3)  # the first sweep runs before any poll has been read
        sweeps.clear()
        [later] = add_posts(herald, company[0], account, 1,
                            run_at=utcnow() + timedelta(hours=1))
        await asyncio.sleep(1.6)  # three sweep ticks, nothing in flight
        assert sweeps == []

        # A worker that died holding the post: claimed, its lease already run out.
        dead = herald.queue()
        [claim] = dead.claim(worker_id="dead", limit=1, now=utcnow() + timedelta(hours=2))
        assert claim.post_id == later
        with herald.db.engine.begin() as conn:
            conn.execute(PostSchedule.__table__.update().values(
                lease_expires_at=utcnow() - timedelta(seconds=1)))
        deadline = asyncio.get_running_loop().time() + 15
        while not _all_status(herald, [later], "published")():
            assert asyncio.get_running_loop().time() < deadline, "not rescued"
            await asyncio.sleep(0.05)
        assert sweeps
    finally:
        worker.stop()
        await task


@pytest.mark.all_engines
async def test_an_idle_worker_with_listen_sends_no_statement(herald, company):
    """On PostgreSQL an idle worker waits on LISTEN alone: no polls, no sweeps (every
    write that makes a post due sooner NOTIFYs), until a post is due or a NOTIFY."""
    if herald.db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    from sqlalchemy import event

    account = add_account(herald, company[0])
    add_posts(herald, company[0], account, 1, run_at=utcnow() + timedelta(hours=1))
    worker = build_worker(herald, worker_id="w1")  # polls 0.2 s apart without LISTEN
    # A lease shorter than the wait below: its last poll grows older than a lease, which
    # without LISTEN calls for a sweep (a claim since could have run out).
    worker.queue.lease = timedelta(seconds=0.5)
    statements: list[str] = []

    def counted(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            statements.append(statement)

    task = asyncio.create_task(worker.run())
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while not worker.wakeup.live or worker._lease_seen is None:
            assert asyncio.get_running_loop().time() < deadline, "LISTEN never came up"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # the poll and first sweep of start-up are done
        event.listen(herald.db.engine, "before_cursor_execute", counted)
        await asyncio.sleep(2.0)  # ten polls' and four sweeps' worth without LISTEN
        assert statements == []
        [now_due] = add_posts(herald, company[0], account, 1)  # its NOTIFY wakes a poll
        deadline = asyncio.get_running_loop().time() + 10
        while not _all_status(herald, [now_due], "published")():
            assert asyncio.get_running_loop().time() < deadline, "not published"
            await asyncio.sleep(0.05)
    finally:
        if event.contains(herald.db.engine, "before_cursor_execute", counted):
            event.remove(herald.db.engine, "before_cursor_execute", counted)
        worker.stop()
        await task


async def test_a_worker_polls_until_its_listen_connection_is_up(herald, company):
    """A LISTEN connection still being made (slow under load, or the server away) hears
    no NOTIFY: until it is up the worker polls, instead of sleeping the 300 s backstop."""
    if herald.db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    import socket

    silent = socket.socket()  # accepts the connection, never answers its start-up
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    listen_url = herald.db.engine.url.set(host="127.0.0.1", port=port)
    account = add_account(herald, company[0])
    worker = build_worker(herald, worker_id="w1", listen_url=listen_url)
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.5)  # its first poll saw nothing due
        [due] = add_posts(herald, company[0], account, 1)
        # connect_timeout (10 s) bounds the connection attempt: well after this.
        deadline = asyncio.get_running_loop().time() + 8
        while not _all_status(herald, [due], "published")():
            assert asyncio.get_running_loop().time() < deadline, "slept on a dead LISTEN"
            await asyncio.sleep(0.05)
        assert worker.wakeup.live is False
    finally:
        worker.stop()
        await task
        silent.close()


class _Reconciling(RecordingPublisher):
    """A publisher whose reconcile raises `checks` in turn, then finds nothing out."""

    def __init__(self, platform: str, checks: list[BaseException]) -> None:
        super().__init__(platform)
        self.checks = checks
        self.reconciles = 0

    async def reconcile(self, job: PublishJob) -> PublishResult | None:
        self.reconciles += 1
        if self.checks:
            raise self.checks.pop(0)
        return None


async def test_checks_that_cannot_reach_the_platform_spend_no_attempt(herald, company):
    """A commit answered with a 5xx, then three checks answered with 5xx too: at 3
    attempts the post used to be `unconfirmed`; the checks spend none of its count, and
    once the platform answers it is checked and sent."""
    unreachable = [TransientError("Facebook had a temporary problem (HTTP 503).",
                                  unreachable=True) for _ in range(3)]
    publisher = _Reconciling("facebook", unreachable)
    herald.registry.register(publisher)
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    publisher.fail(pid, OutcomeUnknownError("HTTP 500 during the publishing call.",
                                            unreachable=True))
    with herald.db.engine.begin() as conn:  # the count alone would give up at 3
        conn.execute(update(PostSchedule).values(max_attempts=3))
    worker = build_worker(herald, worker_id="w1")
    await _run_until(worker, _all_status(herald, [pid], "published"))
    post = _posts(herald, [pid])[pid]
    with herald.db.session() as s:
        entry = s.get(PostSchedule, pid)
    assert (post.attempts, publisher.reconciles, len(publisher.calls)) == (5, 4, 2)
    assert entry.max_attempts == 3 + 3


async def test_a_post_whose_check_keeps_failing_is_unconfirmed_without_a_promise(
    settings, company
):
    """Out of attempts and time: `unconfirmed`, and its message no longer says Herald
    will check (it once said so and "gave up" in one breath)."""
    from herald.runtime import Herald

    herald = Herald.from_settings(settings.model_copy(update={"retry_budget_seconds": 0}))
    publisher = _Reconciling("facebook", [OutcomeUnknownError("The page's posts could not "
                                                              "be read.")] * 5)
    herald.registry.register(publisher)
    try:
        account = add_account(herald, company[0])
        [pid] = add_posts(herald, company[0], account)
        publisher.fail(pid, OutcomeUnknownError("Timed out while posting."))
        worker = build_worker(herald, worker_id="w1")
        await _run_until(worker, _all_status(herald, [pid], "unconfirmed"))
        message = _posts(herald, [pid])[pid].error_message
        assert "will check" not in message
        assert message.startswith("The page's posts could not be read. Herald could not "
                                  "find out whether it went out (3 attempts")
        assert len(publisher.calls) == 1  # never sent again
    finally:
        herald.db.dispose()


class _FoundAfter(_Reconciling):
    """A publisher whose reconcile raises `checks` in turn, then finds the post out."""

    async def reconcile(self, job: PublishJob) -> PublishResult | None:
        self.reconciles += 1
        if self.checks:
            raise self.checks.pop(0)
        return PublishResult(external_id="found-1", permalink="https://example.test/found")


def _at_the_rescue_limit(herald, pid):
    """The post's workers stopped MAX_RESCUES times mid-commit: its next attempt only checks."""
    from herald.queue import MAX_RESCUES

    with herald.db.engine.begin() as conn:
        conn.execute(update(PostSchedule).where(PostSchedule.post_id == pid).values(
            rescues=MAX_RESCUES, run_at=utcnow()))


@pytest.mark.parametrize("found", [True, False])
async def test_a_final_check_that_cannot_reach_the_platform_is_tried_again(
        herald, company, found):
    """At the rescue limit a post gets one check-only attempt; in a chaos run on a loaded
    machine 9 LinkedIn posts ended `unconfirmed` because that check got a 5xx (LinkedIn
    checks by resending, which answered 500). An unreachable check says nothing about the
    post: it is tried again (spending no attempt) until the platform answers."""
    checks = [OutcomeUnknownError("LinkedIn had a server error (HTTP 500).", unreachable=True),
              TransientError("LinkedIn had a temporary problem (HTTP 503).", unreachable=True)]
    # Until the rescue limit is set, every check fails (w1 may retry once or twice).
    publisher = (_FoundAfter if found else _Reconciling)("facebook", [
        OutcomeUnknownError("no answer", unreachable=True) for _ in range(50)])
    herald.registry.register(publisher)
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    publisher.fail(pid, OutcomeUnknownError("HTTP 500 during the publishing call.",
                                            unreachable=True))
    worker = build_worker(herald, worker_id="w1")
    await _run_until(worker, lambda: _posts(herald, [pid])[pid].error_message is not None)
    _at_the_rescue_limit(herald, pid)
    publisher.checks, publisher.reconciles = checks, 0

    worker = build_worker(herald, worker_id="w2")
    await _run_until(worker, _all_status(herald, [pid], "published", "failed",
                                         "unconfirmed"))
    post = _posts(herald, [pid])[pid]
    assert publisher.reconciles == 3  # two checks that could not reach it, one answered
    assert len(publisher.calls) == 1  # a final check never sends
    if found:
        assert (post.status, post.external_post_id) == ("published", "found-1")
    else:
        assert post.status == "failed"
        assert "did not go out" in post.error_message
