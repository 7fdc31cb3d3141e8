"""A worker cut off from its database mid-publish (a TCP proxy that blackholes the
connection: no error, no answer) loses nothing and posts nothing twice, and carries on
once the network is back.

Before, its database calls waited forever on the silent connections (psycopg has no
read timeout, and the kernel keeps the connection open), and so did the worker, after the
network came back too. Now the watchdog (herald/queue/deadline.py) drops a connection
that gives no answer within HERALD_DB_TIMEOUT, the worker rides the outage out, and the
posts it had in flight are rescued and reconciled by a worker that can reach the
database. Short lease and timeouts keep the test short; the order of events is checked.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import make_url

from herald.config import normalize_database_url
from herald.db import Database, make_engine
from herald.queue import deadline
from tests.process.blackhole import Blackhole
from tests.process.harness import Stage

LEASE = {"HERALD_LEASE_SECONDS": "3", "HERALD_RESCUE_INTERVAL": "1"}


def _through(hole: Blackhole, url: str) -> str:
    """The database URL by way of the proxy, with a short connect timeout."""
    parsed = make_url(url)
    return parsed.set(port=hole.port, query={**parsed.query, "connect_timeout": "3"}
                      ).render_as_string(hide_password=False)


@pytest.fixture
def hole(server_database: str):
    parsed = make_url(server_database)
    proxy = Blackhole(parsed.host or "127.0.0.1", parsed.port or 5432).start()
    yield proxy
    proxy.close()


def test_a_statement_on_a_silent_connection_fails_instead_of_hanging(
        server_database: str, hole: Blackhole) -> None:
    db = Database(make_engine(normalize_database_url(_through(hole, server_database))))
    dog = deadline.watch(db.engine, 1.0)
    assert dog is not None and deadline.watch(db.engine, 1.0) is dog  # one per engine
    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            hole.cut()
            started = time.monotonic()
            with pytest.raises(Exception) as caught:
                conn.exec_driver_sql("SELECT 1")
        assert time.monotonic() - started < 10  # not forever
        assert dog.cut == 1, caught.value
    finally:
        db.dispose()


def test_a_worker_cut_off_mid_publish_loses_nothing_and_posts_nothing_twice(
        server_database: str, stage: Stage, hole: Blackhole) -> None:
    # The first three containers take 8 s; the first three commits 2 s.
    stage.fault(kind="timeout", platform="instagram", endpoint="container", delay=8, count=3)
    stage.fault(kind="timeout", platform="instagram", endpoint="commit", delay=2, count=3)
    cut_off = stage.start_worker("cut", env=stage.env(
        **LEASE, HERALD_DB_TIMEOUT="2", HERALD_DATABASE_URL=_through(hole, stage.url)))
    cut_off.wait_for_log("worker cut started", timeout=60)
    ids, _ = stage.add_posts(6, platform="instagram", caption="Cut off")
    stage.wait(lambda: stage.phases("cut").count("committing") >= 3, 60,
               "three commits in flight")
    time.sleep(0.3)  # their calls are on the wire (the fake holds each 2 s)
    hole.cut()
    assert "claimed" in stage.phases("cut")  # and some before their commit

    rescuer = stage.start_worker("rescuer", env=stage.env(**LEASE))
    stage.wait(lambda: set(stage.statuses(ids).values()) == {"published"}, 90,
               "the rescuer to publish every post")
    stage.exactly_once(ids)
    # The cut-off worker's stalled containers answered meanwhile; it could not put
    # "committing" on record, so it sent none of their commits.
    stage.wait(lambda: "no answer from the database" in cut_off.log_text(), 20,
               "the watchdog to drop a silent connection")
    commits = len(stage.fake.commits())
    assert cut_off.proc.poll() is None

    hole.heal()
    assert rescuer.stop() == 0
    more, _ = stage.add_posts(2, caption="After the cut")
    stage.wait(lambda: set(stage.statuses(more).values()) == {"published"}, 90,
               "the cut-off worker to publish new posts once the network is back")
    assert len(stage.fake.commits()) == commits + 2
    stage.exactly_once(ids)
    stage.exactly_once(more)
