"""Platforms and accounts held as down, on every engine: counted across workers in the
database, their posts held (spending nothing), one probe at a time, released in order."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from herald import queue as q
from herald.models import PlatformHealth, PostSchedule, utcnow
from herald.queue import Outcome
from herald.queue.health import Rules
from tests.helpers import add_account, add_posts, make_due

RULES = Rules(failures=5, window_seconds=120, probe_seconds=5, probe_max_seconds=300)


def _queue(herald):
    return q.Queue(herald.db.engine, lease_seconds=30, rand=lambda: 0.5, outage=RULES)


def _due_in_order(herald, ids, start):
    for n, pid in enumerate(ids):
        make_due(herald, [pid], at=start + timedelta(milliseconds=n))


def _unreachable(claims):
    return [Outcome(c, "retry", error_message="Facebook had a temporary problem (HTTP 503).",
                    error_code="2", unreachable=True) for c in claims]


def _health(herald):
    with herald.db.session() as s:
        return {h.scope: h for h in s.scalars(select(PlatformHealth))}


def _outage(herald, company, now):
    """Two Facebook pages whose calls fail on two workers: 3 + 2 failures in a row."""
    a = add_account(herald, company[0], external_id="page-a")
    b = add_account(herald, company[0], external_id="page-b")
    li = add_account(herald, company[0], platform="linkedin", external_id="urn:li:person:x")
    fb = add_posts(herald, company[0], a, 4) + add_posts(herald, company[0], b, 4)
    other = add_posts(herald, company[0], li, 2)
    start = now - timedelta(minutes=1)
    _due_in_order(herald, fb + other, start)
    w1, w2 = _queue(herald), _queue(herald)
    c1 = w1.claim(worker_id="w1", limit=3, now=now)
    c2 = w2.claim(worker_id="w2", limit=2, now=now)
    assert sorted(c.post_id for c in c1 + c2) == sorted(fb[:5])
    w1.finish(_unreachable(c1), now=now)
    w2.finish(_unreachable(c2), now=now)
    return fb, other


def test_failures_counted_across_workers_hold_the_platform(herald, company):
    now = utcnow()
    fb, other = _outage(herald, company, now)
    health = _health(herald)
    down = health["platform:facebook"]
    assert down.down_since == now and down.failures == 5
    assert down.reason == "Facebook had a temporary problem (HTTP 503)."
    assert down.probe_at == now + timedelta(seconds=5)
    # Before the probe is due: other platforms flow, Facebook's posts wait (pending,
    # their attempts given back: an unreachable platform spends none).
    queue = _queue(herald)
    claims = queue.claim(worker_id="w3", limit=50, now=now + timedelta(seconds=3))
    assert sorted(c.post_id for c in claims) == sorted(other)
    assert queue.holding == now + timedelta(seconds=5)
    with herald.db.session() as s:
        rows = {r.post_id: r for r in s.scalars(select(PostSchedule)
                                                 .where(PostSchedule.post_id.in_(fb)))}
    assert {r.status for r in rows.values()} == {"pending"}
    assert all(r.max_attempts == 4 for pid, r in rows.items() if pid in fb[:5])


def test_one_post_probes_and_only_one_worker_sends_it(herald, company):
    now = utcnow()
    fb, _ = _outage(herald, company, now)
    at = now + timedelta(seconds=6)
    w3, w4 = _queue(herald), _queue(herald)
    probe = [c for c in w3.claim(worker_id="w3", limit=50, now=at) if c.post_id in fb]
    # The longest due: the first post never tried (the tried ones wait their retry).
    assert [c.post_id for c in probe] == [fb[5]]
    assert [c for c in w4.claim(worker_id="w4", limit=50, now=at) if c.post_id in fb] == []
    assert _health(herald)["platform:facebook"].probe_post_id == fb[5]


def test_a_failed_probe_waits_twice_as_long(herald, company):
    now = utcnow()
    fb, _ = _outage(herald, company, now)
    at = now + timedelta(seconds=6)
    queue = _queue(herald)
    probe = [c for c in queue.claim(worker_id="w3", limit=50, now=at) if c.post_id in fb]
    queue.finish(_unreachable(probe), now=at)
    down = _health(herald)["platform:facebook"]
    assert down.down_since == now and down.probe_seconds == 10
    assert down.probe_at == at + timedelta(seconds=10)
    assert [c for c in queue.claim(worker_id="w3", limit=50, now=at + timedelta(seconds=9))
            if c.post_id in fb] == []


def test_an_answer_releases_the_posts_in_their_order(herald, company):
    now = utcnow()
    fb, _ = _outage(herald, company, now)
    at = now + timedelta(seconds=6)
    queue = _queue(herald)
    [probe] = [c for c in queue.claim(worker_id="w3", limit=50, now=at) if c.post_id in fb]
    queue.finish([Outcome(probe, "published", external_id="fb_1")], now=at)
    assert _health(herald)["platform:facebook"].down_since is None
    later = at + timedelta(seconds=5)
    # Those never tried first (due a minute ago), then the retried ones (due at once).
    first = queue.claim(worker_id="w3", limit=2, now=later)
    assert sorted(c.post_id for c in first) == sorted(fb[6:])
    rest = queue.claim(worker_id="w3", limit=50, now=later)
    assert sorted(c.post_id for c in rest if c.post_id in fb) == sorted(fb[:5])
    assert queue.holding is None


def test_one_accounts_trouble_holds_that_account_alone(herald, company):
    now = utcnow()
    a = add_account(herald, company[0], external_id="page-a")
    b = add_account(herald, company[0], external_id="page-b")
    posts_a = add_posts(herald, company[0], a, 6)
    posts_b = add_posts(herald, company[0], b, 2)
    _due_in_order(herald, posts_a + posts_b, now - timedelta(minutes=1))
    queue = _queue(herald)
    claims = queue.claim(worker_id="w1", limit=5, now=now)
    queue.finish(_unreachable(claims), now=now)
    health = _health(herald)
    assert health["account:" + a].down_since == now
    assert health["platform:facebook"].down_since is None  # one account only
    later = queue.claim(worker_id="w1", limit=50, now=now + timedelta(seconds=1))
    assert sorted(c.post_id for c in later) == sorted(posts_b)


def test_healthy_traffic_writes_no_health_rows(herald, company):
    account = add_account(herald, company[0])
    ids = add_posts(herald, company[0], account, 3)
    make_due(herald, ids)
    queue = _queue(herald)
    claims = queue.claim(worker_id="w1", limit=5, now=utcnow())
    queue.finish([Outcome(c, "published", external_id=f"x{n}") for n, c in enumerate(claims)],
                 now=utcnow())
    assert _health(herald) == {}
