"""The deliveries' queue and the dispatcher, on every engine: claims never overlap, a
post's deliveries go in order, a lost lease is rescued and its late finish ignored."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import event, select

from herald.events import EventType, dispatcher, record
from herald.events.schemas import WebhookCreate
from herald.models import Event, WebhookDelivery, utcnow
from herald.queue import deliveries as dq
from herald.queue.dialects import dialect_for
from herald.queue.policy import Retry
from herald.services import webhooks as service
from tests.helpers import add_account, add_posts

RETRY = Retry(30.0, 3600.0, rand=lambda: 0.5)


def _webhook(herald, company_id, events=("post.published", "post.failed")):
    with herald.unit_of_work() as session:
        webhook, _ = service.create_webhook(
            session, herald.context(company_id),
            WebhookCreate(url="https://hooks.example.test/h", events=list(events)))
        return webhook.id


def _events(herald, kind, subject_ids):
    with herald.db.engine.begin() as conn:
        record(conn, kind, subject_ids)
    return dispatcher.dispatch(herald.db.engine, now=utcnow(), max_attempts=3)


def _claim(herald, worker="w1", limit=10, now=None, lease=30):
    now = now or utcnow()
    with herald.db.engine.begin() as conn:
        return dq.claim(conn, dialect_for(herald.db.dialect), dq.deliveries_t,
                        worker_id=worker, limit=limit, now=now,
                        lease_until=now + timedelta(seconds=lease))


def _finish(herald, lease, ok, now=None):
    with herald.db.engine.begin() as conn:
        return dq.finish(conn, dq.deliveries_t, dq.Result(lease, ok), now=now or utcnow(),
                         retry=RETRY)


def test_an_event_is_dispatched_once_to_each_webhook_that_wants_it(herald, company):
    wants = _webhook(herald, company[0])
    _webhook(herald, company[0], events=["account.needs_reauth"])  # does not want it
    account = add_account(herald, company[0])
    posts = add_posts(herald, company[0], account, 3)
    assert _events(herald, EventType.POST_PUBLISHED, posts) == 3
    assert dispatcher.dispatch(herald.db.engine, now=utcnow(), max_attempts=3) == 0
    with herald.db.session() as s:
        rows = s.scalars(select(WebhookDelivery)).all()
        assert sorted(r.subject_id for r in rows) == sorted(posts)
        assert {r.webhook_id for r in rows} == {wants}
        events = s.scalars(select(Event)).all()
        assert all(e.dispatched_at is not None and e.company_id == company[0]
                   for e in events)
        assert {e.data["id"] for e in events if e.data} == set(posts)


def test_a_batch_of_post_events_reads_its_posts_in_one_statement(herald, company):
    # A burst publishes thousands of posts: one SELECT per event was a fifth of a
    # worker's CPU. Each event still carries its own post's data.
    _webhook(herald, company[0])
    account = add_account(herald, company[0])
    posts = add_posts(herald, company[0], account, 6)
    with herald.db.engine.begin() as conn:
        record(conn, EventType.POST_PUBLISHED, posts)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(herald.db.engine, "before_cursor_execute", seen)
    try:
        assert dispatcher.dispatch(herald.db.engine, now=utcnow(), max_attempts=3) == 6
    finally:
        event.remove(herald.db.engine, "before_cursor_execute", seen)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")
             and "FROM posts" in s]
    assert len(reads) == 1, reads
    with herald.db.session() as s:
        by_subject = {e.subject_id: e.data for e in s.scalars(select(Event))}
    assert {pid: data["id"] for pid, data in by_subject.items()} == {p: p for p in posts}
    assert all(data["account_id"] == account for data in by_subject.values())


def test_two_workers_never_claim_the_same_delivery(herald, company):
    _webhook(herald, company[0])
    account = add_account(herald, company[0])
    _events(herald, EventType.POST_PUBLISHED, add_posts(herald, company[0], account, 120))
    got: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while leases := _claim(herald, worker=name, limit=7):
                got[name] += [lease.id for lease in leases]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    everything = got["a"] + got["b"]
    assert len(everything) == len(set(everything)) == 120


def test_a_posts_deliveries_go_out_in_the_order_of_its_events(herald, company):
    _webhook(herald, company[0])
    account = add_account(herald, company[0])
    [post] = add_posts(herald, company[0], account, 1)
    _events(herald, EventType.POST_FAILED, [post])
    _events(herald, EventType.POST_PUBLISHED, [post])
    [first] = _claim(herald)
    assert _claim(herald) == []  # the second waits for the first
    assert _finish(herald, first, ok=False) == "pending"  # a retry still holds it back
    assert _claim(herald, now=utcnow() + timedelta(hours=2)) != []


def test_a_lost_lease_is_rescued_and_its_late_finish_ignored(herald, company):
    _webhook(herald, company[0])
    account = add_account(herald, company[0])
    _events(herald, EventType.POST_PUBLISHED, add_posts(herald, company[0], account, 1))
    [lease] = _claim(herald, lease=1)
    later = utcnow() + timedelta(seconds=5)
    with herald.db.engine.begin() as conn:
        assert dq.rescue_expired(conn, dq.deliveries_t, now=later) == 1
    [again] = _claim(herald, worker="w2", now=later)
    assert again.id == lease.id and again.attempt == 2
    assert _finish(herald, lease, ok=True) is None  # w1 woke up late: not its row any more
    assert _finish(herald, again, ok=True) == "delivered"


def test_failures_back_off_then_fail_when_attempts_run_out(herald, company):
    _webhook(herald, company[0])
    account = add_account(herald, company[0])
    _events(herald, EventType.POST_PUBLISHED, add_posts(herald, company[0], account, 1))
    now = utcnow()
    statuses = []
    for n in range(3):
        [lease] = _claim(herald, now=now)
        statuses.append(_finish(herald, lease, ok=False, now=now))
        with herald.db.session() as s:
            row = s.get(WebhookDelivery, lease.id)
            if statuses[-1] == "pending":
                # 30 s · 2^(n) · 0.75, the post queue's backoff
                assert row.run_at - now == timedelta(seconds=30 * 2 ** n * 0.75)
        now += timedelta(hours=2)
    assert statuses == ["pending", "pending", "failed"]


def test_a_disabled_webhooks_deliveries_wait(herald, company):
    webhook_id = _webhook(herald, company[0])
    account = add_account(herald, company[0])
    _events(herald, EventType.POST_PUBLISHED, add_posts(herald, company[0], account, 1))
    from herald.events.schemas import WebhookPatch

    with herald.unit_of_work() as session:
        service.update_webhook(session, herald.context(company[0]), webhook_id,
                               WebhookPatch(enabled=False))
    assert _claim(herald) == []
    with herald.db.engine.connect() as conn:
        assert dq.horizon(conn, dq.deliveries_t) == (None, None)
    with herald.unit_of_work() as session:
        service.update_webhook(session, herald.context(company[0]), webhook_id,
                               WebhookPatch(enabled=True))
    assert len(_claim(herald)) == 1


def _age(herald, days: int) -> None:
    """Everything written so far happened `days` ago."""
    then = utcnow() - timedelta(days=days)
    with herald.db.engine.begin() as conn:
        conn.execute(dq.deliveries_t.update().values(created_at=then, updated_at=then))
        conn.execute(dq.sends_t.update().values(created_at=then, updated_at=then))
        conn.execute(Event.__table__.update().values(created_at=then))


def test_retention_deletes_finished_deliveries_and_their_events_only(herald, company):
    from herald.events import retention

    _webhook(herald, company[0])
    account = add_account(herald, company[0])
    old = add_posts(herald, company[0], account, 4)
    _events(herald, EventType.POST_PUBLISHED, old)
    delivered, failed, waiting = _claim(herald, limit=3)  # the fourth is never claimed
    _finish(herald, delivered, True)
    _finish(herald, failed, False)
    with herald.db.engine.begin() as conn:  # as if its attempts had run out
        conn.execute(dq.deliveries_t.update().where(dq.deliveries_t.c.id == failed.id)
                     .values(status="failed"))
    _age(herald, 40)
    # A fresh event and delivery, and a stale event no webhook wanted.
    _events(herald, EventType.POST_PUBLISHED, add_posts(herald, company[0], account, 1))
    with herald.db.engine.begin() as conn:
        record(conn, EventType.ACCOUNT_NEEDS_REAUTH, [account],
               now=utcnow() - timedelta(days=40))
    dispatcher.dispatch(herald.db.engine, now=utcnow(), max_attempts=3)

    done = retention.purge(herald.db.engine, now=utcnow(), keep=timedelta(days=30), batch=1)
    assert (done.deliveries, done.sends) == (2, 0)
    assert done.events == 3  # two freed by their deliveries, and the one nobody wanted
    with herald.db.session() as s:
        left = {d.id: d.status for d in s.scalars(select(WebhookDelivery))}
        events = {e.subject_id for e in s.scalars(select(Event))}
    # The one still processing and the never-claimed one stay, and so do their events.
    assert waiting.id in left and delivered.id not in left and failed.id not in left
    assert sorted(left.values()) == ["pending", "pending", "processing"]
    assert len(events) == 3 and account not in events
    again = retention.purge(herald.db.engine, now=utcnow(), keep=timedelta(days=30))
    assert again.total == 0
