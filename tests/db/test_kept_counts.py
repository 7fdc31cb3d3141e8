"""The kept counts (migration 0022's triggers, herald/queue/counts.py) equal a real COUNT
after everything that makes, moves or removes posts and queue rows, on every engine."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select, text

from herald import migrate, services
from herald import queue as q
from herald.models import Company, Post, PostSchedule, utcnow
from herald.queue import Outcome, counts
from herald.web import queries
from tests.helpers import add_account, add_posts, make_due, run_together


def _real(herald):
    """What COUNT says: posts by (company, account, status), queue rows by status."""
    with herald.db.engine.connect() as conn:
        posts = {(c, a, s): n for c, a, s, n in conn.execute(
            select(Post.company_id, Post.account_id, Post.status, func.count())
            .group_by(Post.company_id, Post.account_id, Post.status))}
        queue = dict(conn.execute(
            select(PostSchedule.status, func.count()).group_by(PostSchedule.status)).all())
    return posts, queue


def _kept(herald):
    """The sums of the kept rows, keys whose sum is 0 left out."""
    with herald.db.engine.connect() as conn:
        posts = {(c, a, s): int(n) for c, a, s, n in conn.execute(text(
            "SELECT company_id, account_id, status, SUM(n) FROM post_counts "
            "GROUP BY company_id, account_id, status")) if n}
        queue = {s: int(n) for s, n in conn.execute(text(
            "SELECT status, SUM(n) FROM queue_counts GROUP BY status")) if n}
    return posts, queue


def _rows(herald, table):
    with herald.db.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def _check(herald):
    real = _real(herald)
    assert _kept(herald) == real
    return real


def _queue(herald):
    return q.Queue(herald.db.engine, lease_seconds=30, rand=lambda: 0.5)


def test_counts_follow_creates_claims_endings_cancels_retries_and_compaction(herald, company):
    a1 = add_account(herald, company[0], external_id="p1")
    a2 = add_account(herald, company[0], external_id="p2")
    add_posts(herald, company[0], a1, 3, run_at=utcnow() + timedelta(days=30))
    due = add_posts(herald, company[0], a2, 5)
    real = _check(herald)
    assert real[1] == {"pending": 5 + 3}
    make_due(herald, due)
    queue = _queue(herald)
    claims = queue.claim(worker_id="w", limit=10, now=utcnow())
    assert len(claims) == 5
    assert _check(herald)[1] == {"pending": 3, "processing": 5}
    queue.finish([Outcome(claims[0], "published", external_id="x1"),
                  Outcome(claims[1], "failed", error_message="refused"),
                  Outcome(claims[2], "retry", error_message="later"),
                  Outcome(claims[3], "unconfirmed", error_message="unknown")], now=utcnow())
    _check(herald)
    with herald.db.session() as session:
        ctx = herald.context(company[0])
        services.retry_post(session, ctx, claims[1].post_id)
        services.cancel_post(session, ctx, claims[2].post_id)
        services.retry_post(session, ctx, claims[3].post_id, force=True)
    _check(herald)
    # A lease that ran out: the rescue puts it back.
    with herald.db.engine.begin() as conn:
        conn.execute(q.schedule.update().where(q.schedule.c.post_id == claims[4].post_id)
                     .values(lease_expires_at=utcnow() - timedelta(seconds=5)))
    assert queue.rescue_expired(now=utcnow())
    before = _check(herald)
    assert counts.compact(herald.db.engine) > 0
    assert _check(herald) == before
    # One row per key with posts left, after the fold.
    assert _rows(herald, "post_counts") == len(before[0])
    assert _rows(herald, "queue_counts") == len(before[1])
    assert counts.compact(herald.db.engine) == 0  # nothing more to fold
    with herald.db.session() as session:
        services.delete_account(session, herald.context(company[0]), a1)
    _check(herald)
    counts.compact(herald.db.engine)
    assert _check(herald)[0] == {k: n for k, n in before[0].items() if k[1] != a1}


def test_an_update_that_moves_no_count_appends_nothing(herald, company):
    account = add_account(herald, company[0])
    [post_id] = add_posts(herald, company[0], account, run_at=utcnow() + timedelta(days=1))
    counts.compact(herald.db.engine)
    rows = _rows(herald, "post_counts"), _rows(herald, "queue_counts")
    with herald.db.engine.begin() as conn:
        conn.execute(Post.__table__.update().where(Post.id == post_id).values(caption="new"))
        conn.execute(q.schedule.update().where(q.schedule.c.post_id == post_id)
                     .values(run_at=utcnow() + timedelta(days=2)))
    assert (_rows(herald, "post_counts"), _rows(herald, "queue_counts")) == rows
    _check(herald)


def test_removing_a_company_takes_its_counts_with_it(herald, company):
    other = add_account(herald, company[0], external_id="stays")
    add_posts(herald, company[0], other, 2, run_at=utcnow() + timedelta(days=3))
    with herald.db.session() as session:
        gone, _ = services.create_company(session, name="Gone")
        gone_id = gone.id
    for n in range(2):
        account = add_account(herald, gone_id, external_id=f"gone-{n}")
        add_posts(herald, gone_id, account, 3, run_at=utcnow() + timedelta(days=3))
    _check(herald)
    with herald.db.session() as session:
        removed = services.remove_company(session, session.get(Company, gone_id), force=True)
    assert removed == {"pending": 6}
    real = _check(herald)
    assert real[1] == {"pending": 2}
    with herald.db.session() as session:
        assert queries.post_counts(session, gone_id) == {}
        assert queries.dashboard(session, gone_id, utcnow()).counts == {}


def test_concurrent_writers_on_two_connections(herald, company):
    accounts = [add_account(herald, company[0], external_id=f"c{n}") for n in range(2)]
    queue = _queue(herald)

    def write(n: int) -> None:
        for _ in range(5):
            ids = add_posts(herald, company[0], accounts[n], 4)
            make_due(herald, ids)
            for claim in queue.claim(worker_id=f"w{n}", limit=3, now=utcnow()):
                queue.finish([Outcome(claim, "published", external_id=claim.post_id)],
                             now=utcnow())

    run_together(2, write)
    real = _check(herald)
    assert sum(real[1].values()) == 40


def test_a_compaction_racing_writers_loses_no_change(herald, company):
    account = add_account(herald, company[0])
    queue = _queue(herald)
    stop = threading.Event()
    folded: list[int] = []

    def compactor() -> None:
        while not stop.is_set():
            folded.append(counts.compact(herald.db.engine, batch=7))

    thread = threading.Thread(target=compactor)
    thread.start()
    try:
        for _ in range(8):
            ids = add_posts(herald, company[0], account, 5)
            make_due(herald, ids)
            claims = queue.claim(worker_id="w", limit=3, now=utcnow())
            queue.finish([Outcome(c, "published", external_id=c.post_id) for c in claims],
                         now=utcnow())
            [later] = add_posts(herald, company[0], account, run_at=utcnow() + timedelta(days=1))
            with herald.db.session() as session:
                services.cancel_post(session, herald.context(company[0]), later)
    finally:
        stop.set()
        thread.join(60)
    assert sum(folded) > 0  # it did fold rows while the writers wrote
    before = _check(herald)
    counts.compact(herald.db.engine)
    assert _check(herald) == before


def test_two_compactions_at_once_fold_each_row_once(herald, company):
    account = add_account(herald, company[0])
    for _ in range(6):
        add_posts(herald, company[0], account, 3)
    before = _check(herald)
    run_together(2, lambda n: counts.compact(herald.db.engine, batch=4))
    assert _check(herald) == before


def test_pages_and_status_show_what_count_shows(herald, company):
    a1 = add_account(herald, company[0], external_id="s1")
    a2 = add_account(herald, company[0], external_id="s2")
    add_posts(herald, company[0], a1, 4, run_at=utcnow() + timedelta(days=2))
    due = add_posts(herald, company[0], a2, 3)
    make_due(herald, due)
    queue = _queue(herald)
    [claim, *_] = queue.claim(worker_id="w", limit=1, now=utcnow())
    queue.finish([Outcome(claim, "failed", error_message="no")], now=utcnow())
    queue.claim(worker_id="w", limit=1, now=utcnow())
    with herald.db.session() as session:
        board = queries.dashboard(session, company[0], utcnow())
        per_account = queries.post_counts(session, company[0])
    assert dict(board.counts) == {"pending": 5, "processing": 1, "failed": 1}
    assert board.attention_count == 1
    assert per_account == {a1: 4, a2: 3}
    stats = queue.stats(now=utcnow(), since=utcnow() - timedelta(days=1))
    assert (stats["pending"], stats["processing"]) == (5, 1)
    assert stats["due_now"] == 1


def test_the_migration_counts_the_posts_already_there(herald, company):
    from alembic import command

    account = add_account(herald, company[0])
    config = migrate.alembic_config()
    with herald.db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0021")
    try:
        add_posts(herald, company[0], account, 4, run_at=utcnow() + timedelta(days=1))
        due = add_posts(herald, company[0], account, 2)
        make_due(herald, due)
        _queue(herald).claim(worker_id="w", limit=1, now=utcnow())
    finally:
        migrate.upgrade(herald.db.engine)
    real = _check(herald)
    assert real[1] == {"pending": 5, "processing": 1}
    add_posts(herald, company[0], account, 1)  # and the triggers count from there on
    _check(herald)


def test_the_housekeeping_folds_at_most_once_a_period(herald, company):
    account = add_account(herald, company[0])
    add_posts(herald, company[0], account, 2)
    add_posts(herald, company[0], account, 2)
    fold = counts.Compaction(herald.db.engine, every=3600)
    assert fold(utcnow()) > 0
    add_posts(herald, company[0], account, 2)
    assert fold(utcnow()) == 0  # within the hour: not again
    assert _rows(herald, "post_counts") > 1  # the folded row and the new ones, unfolded
    _check(herald)
