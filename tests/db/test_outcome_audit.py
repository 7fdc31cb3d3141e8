"""The worker's outcomes are in the audit log (actor "worker"), written with the outcome:
published, failed, unconfirmed (rescued mid-commit), cancelled; a retry writes none."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from herald import queue as q
from herald.models import AuditEntry, utcnow
from herald.queue import Outcome, outcome_audit
from herald.services import audit
from tests.helpers import add_account, add_posts


def _queue(herald, **kw):
    return q.Queue(herald.db.engine, lease_seconds=kw.pop("lease", 30), rand=lambda: 0.5, **kw)


def _worker_entries(herald, post_id):
    with herald.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.post_id == post_id,
                                                       AuditEntry.actor == "worker")
                              .order_by(AuditEntry.id)))


def test_a_published_post_and_a_failed_one_are_logged_by_the_worker(herald, company):
    account = add_account(herald, company[0])
    ok, bad = add_posts(herald, company[0], account, 2)
    queue = _queue(herald)
    claims = {c.post_id: c for c in queue.claim(worker_id="w1", limit=2, now=utcnow())}
    queue.finish([Outcome(claims[ok], "published", external_id="fb_1",
                          permalink="https://facebook.test/fb_1"),
                  Outcome(claims[bad], "failed", error_message="The image is too small.")],
                 now=utcnow())
    [published] = _worker_entries(herald, ok)
    assert (published.action, published.company_id, published.account_id) == (
        "post.published", company[0], account)
    assert published.before == {"status": "processing"}
    assert published.after == {"status": "published", "external_post_id": "fb_1",
                               "permalink": "https://facebook.test/fb_1"}
    [failed] = _worker_entries(herald, bad)
    assert failed.action == "post.failed"
    assert failed.after["status"] == "failed"
    assert "The image is too small." in failed.after["error_message"]


def test_a_retry_is_no_outcome_and_writes_no_entry(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    queue = _queue(herald)
    [claim] = queue.claim(worker_id="w1", limit=1, now=utcnow())
    queue.finish([Outcome(claim, "retry", error_message="HTTP 503")], now=utcnow())
    assert _worker_entries(herald, pid) == []


def test_a_post_lost_mid_commit_past_the_limit_is_logged_unconfirmed_once(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    queue = _queue(herald, lease=1)
    now = utcnow()
    for i in range(q.MAX_RESCUES + 1):
        t = now + timedelta(seconds=10 * i)
        [claim] = queue.claim(worker_id=f"w{i}", limit=1, now=t)
        queue.record_phase(claim, phase="committing", ids={})
        assert queue.rescue_expired(now=t + timedelta(seconds=2)) == 1
    [entry] = _worker_entries(herald, pid)
    assert entry.action == "post.unconfirmed" and entry.after["status"] == "unconfirmed"
    assert "may be live" in entry.after["error_message"]


def test_the_outcomes_actions_are_the_audit_logs_own():
    assert set(outcome_audit.ACTIONS.values()) <= {a.value for a in audit.Action}


def test_a_cancel_the_worker_honoured_is_logged_by_the_worker(herald, company):
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account)
    queue = _queue(herald)
    [claim] = queue.claim(worker_id="w1", limit=1, now=utcnow())
    queue.finish([Outcome(claim, "cancelled")], now=utcnow())
    [entry] = _worker_entries(herald, pid)
    assert (entry.action, entry.after["status"]) == ("post.cancelled", "cancelled")
