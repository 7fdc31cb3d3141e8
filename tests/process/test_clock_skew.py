"""A worker whose host clock runs 30 s ahead (Debian's `faketime`) changes nothing: what
is due and whose lease ran out are the database's to say (herald.dbclock).

Before, such a worker published posts due 25 s later about 30 s early, and its rescue
sweep took live leases from other workers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from herald.models import PostSchedule, PublishAttempt
from tests.process.harness import Stage

SKEW = "+30s"


def faketime() -> str:
    """The faketime binary, installed with apt-get when missing and we may (as root)."""
    found = shutil.which("faketime")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        for step in (["apt-get", "install", "-y", "-q", "faketime"],
                     ["sh", "-c", "apt-get update -q && apt-get install -y -q faketime"]):
            if subprocess.run(step, capture_output=True, timeout=300).returncode == 0:
                break
        found = shutil.which("faketime")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("faketime is not installed (apt-get install faketime)")
        pytest.skip("faketime is not installed (apt-get install faketime)")
    return found


def test_a_worker_30s_ahead_publishes_nothing_early_and_rescues_no_live_lease(
        server_database: str, stage: Stage) -> None:
    prefix = [faketime(), "-f", SKEW]
    # The shift works: the skewed process's clock reads 30 s ahead of ours.
    shown = subprocess.run([*prefix, sys.executable, "-c", "import time; print(time.time())"],
                           capture_output=True, text=True, check=True).stdout
    assert 25 < float(shown) - time.time() < 35

    # Another worker's live lease: 20 s to go by the database's clock (10 s gone by the
    # skewed one's).
    [held], _ = stage.add_posts(1, caption="Held elsewhere")
    with stage.db.engine.begin() as conn:
        conn.execute(update(PostSchedule).where(PostSchedule.post_id == held).values(
            status="processing", worker_id="elsewhere", attempts=1,
            lease_expires_at=stage.db_now() + timedelta(seconds=20)))
        conn.execute(PublishAttempt.__table__.insert().values(
            post_id=held, attempt=1, worker_id="elsewhere", started_at=stage.db_now(),
            phase="claimed", platform_ids={}, outcome="running"))

    worker = stage.start_worker("ahead", prefix=prefix)
    worker.wait_for_log("worker ahead started")
    # Due in 8 s: the skewed worker's clock says they are 22 s late already.
    ids, run_at = stage.add_posts(6, in_seconds=8, caption="Due soon")
    stage.wait(lambda: set(stage.statuses(ids).values()) == {"published"}, 40,
               "the posts to be published")

    stage.exactly_once(ids)
    out = [r for r in stage.published() if r["caption"].startswith("Due soon")]
    early = [r for r in out if datetime.fromisoformat(r["published_at"]) < run_at]
    assert not early, f"published before {run_at.isoformat()}: {early}"
    assert all(e.run_at == run_at for e in stage.entries(ids).values())
    # The live lease stayed with its worker: no rescue, no second attempt.
    entry = stage.entries([held])[held]
    assert (entry.status, entry.worker_id, entry.attempts) == ("processing", "elsewhere", 1)
    assert [a.outcome for a in stage.attempts([held])] == ["running"]
    assert "rescued 1 posts" not in worker.log_text()
