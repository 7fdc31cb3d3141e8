"""Every platform call answered 5xx for a stretch: no post fails, none goes out twice, all
are published once the platform is back, and how late they were is reported.

Measured before (issue 13): 30 posts due while every call answered 5xx for 150 s ended
10 `failed` and 20 `unconfirmed`, none published. Here 20 Facebook posts on two Pages
(text posts: each attempt is one commit call, the hardest case: a 5xx on it may mean the
post is out) and two workers at Herald's defaults, but for the outage's probe wait,
capped at 5 s instead of 300 s and the outage 20 s instead of minutes, so that the test
takes under a minute (the probes start at 5 s either way).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from herald.models import PlatformHealth, Post
from tests.process.harness import Stage

log = logging.getLogger(__name__)

#: How long the platforms are down.
OUTAGE_SECONDS = 20.0


def test_an_outage_fails_nothing_and_everything_goes_out_once_after(stage: Stage) -> None:
    env = stage.env(HERALD_OUTAGE_PROBE_MAX_SECONDS="5")
    workers = [stage.start_worker(f"w{n}", env=env) for n in (1, 2)]
    for worker in workers:
        worker.wait_for_log(f"worker {worker.worker_id} started")
    stage.fault(kind="error", code=2, status=503)  # every call, until cleared
    down_at = stage.db_now()
    ids = stage.add_posts(10, caption="Outage")[0] + stage.add_posts(
        10, in_seconds=4, caption="Outage later")[0]
    stage.wait(lambda: "platform:facebook" in _down(stage), 30,
               "Facebook to be held as down")
    held = stage.statuses(ids)
    stage.wait(lambda: (stage.db_now() - down_at).total_seconds() >= OUTAGE_SECONDS,
               OUTAGE_SECONDS + 5, "the outage to last its stretch")
    during = stage.statuses(ids)
    stage.fake.clear_faults()
    back_at = stage.db_now()
    stage.wait(lambda: set(stage.statuses(ids).values()) == {"published"}, 40,
               "every post to be published after the outage")

    assert "failed" not in held.values() and "unconfirmed" not in held.values()
    assert set(during.values()) <= {"pending", "processing"}, during
    stage.exactly_once(ids)
    assert _down(stage) == set()
    times = _times(stage, ids)
    late = sorted((out - due).total_seconds() for due, out in times)
    after = sorted((out - back_at).total_seconds() for _, out in times)
    log.warning("outage of %.0f s, %d posts: published %.1f to %.1f s after their time, "
                "%.1f to %.1f s after the platform answered again", OUTAGE_SECONDS,
                len(ids), late[0], late[-1], after[0], after[-1])
    for worker in workers:
        text = worker.log_text()
        assert "Traceback" not in text, text


def _down(stage: Stage) -> set[str]:
    with stage.db.session() as s:
        return set(s.scalars(select(PlatformHealth.scope)
                             .where(PlatformHealth.down_since.is_not(None))))


def _times(stage: Stage, ids: list[str]) -> list[tuple[datetime, datetime]]:
    """(scheduled, published) of each post."""
    with stage.db.session() as s:
        return [(r.scheduled_at, r.published_at) for r in s.execute(
            select(Post.scheduled_at, Post.published_at).where(Post.id.in_(ids)))]
