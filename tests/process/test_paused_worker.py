"""A worker stopped with SIGSTOP past its lease, whose posts another worker rescued and
published, commits nothing when it wakes (SIGCONT), and carries on publishing.

The paused worker is caught with half its posts in flight at the platform (their commit
sent: the fake applies them while it sleeps) and half before their commit (their
Instagram container stalls). The rescuer reconciles the first half (out: published with
the platform's id) and publishes the second; on waking, the paused worker's "still ours?"
check before each commit finds the lease gone, and the outcomes it brings back are
dropped. A short lease keeps the test short: what is checked is the order of events,
not their timing.
"""

from __future__ import annotations

import os
import signal
import time

from tests.process.harness import Stage

LEASE = {"HERALD_LEASE_SECONDS": "3", "HERALD_RESCUE_INTERVAL": "1"}


def test_a_paused_worker_commits_nothing_on_waking_and_carries_on(
        server_database: str, stage: Stage) -> None:
    env = stage.env(**LEASE)
    # The first three containers take 8 s; the first three commits 1.5 s.
    stage.fault(kind="timeout", platform="instagram", endpoint="container", delay=8, count=3)
    stage.fault(kind="timeout", platform="instagram", endpoint="commit", delay=1.5, count=3)
    paused = stage.start_worker("paused", env=env)
    paused.wait_for_log("worker paused started", timeout=60)
    ids, _ = stage.add_posts(6, platform="instagram", caption="Paused")
    stage.wait(lambda: stage.phases("paused").count("committing") >= 3, 60,
               "three commits in flight")
    time.sleep(0.3)  # their calls are on the wire (the fake holds each 1.5 s)
    os.kill(paused.proc.pid, signal.SIGSTOP)
    try:
        assert "claimed" in stage.phases("paused")  # and some before their commit
        rescuer = stage.start_worker("rescuer", env=env)
        stage.wait(lambda: set(stage.statuses(ids).values()) == {"published"}, 90,
                   "the rescuer to publish every post")
        stage.exactly_once(ids)
        commits = len(stage.fake.commits())
        assert "rescued" in rescuer.log_text()
    finally:
        os.kill(paused.proc.pid, signal.SIGCONT)

    # Awake: its three stalled containers answer, and it reaches their commits.
    paused.wait_for_log("lease_lost", timeout=60)
    time.sleep(2)
    assert len(stage.fake.commits()) == commits  # nothing more was sent
    stage.exactly_once(ids)
    assert paused.proc.poll() is None

    # And it carries on: alone now, it publishes what comes next.
    assert rescuer.stop() == 0
    more, _ = stage.add_posts(2, caption="After waking")
    stage.wait(lambda: set(stage.statuses(more).values()) == {"published"}, 60,
               "the woken worker to publish new posts")
    stage.exactly_once(more)
    stage.exactly_once(ids)
