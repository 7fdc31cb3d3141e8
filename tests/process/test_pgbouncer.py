"""Herald behind a real PgBouncer (Debian's, 1.18: no prepared statements in transaction
pooling): HERALD_DATABASE_PGBOUNCER prepares nothing on the server, `herald serve` and two
`herald worker`s work through it and LISTEN over HERALD_LISTEN_DATABASE_URL, and every
post goes out exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.pgbouncer import PGBOUNCER, PgBouncer
from herald.config import normalize_database_url
from herald.db import make_engine
from tests.conftest import SECRET
from tests.process.debian import ensure_program
from tests.process.spawned import stop, wait_for
from tests.process.test_cli import HERALD, _free_port

PAGE, PAGE_TOKEN = "1001", "secret-token-1001"


@pytest.fixture
def bouncer(database_url: str) -> Iterator[PgBouncer]:
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("PgBouncer pools PostgreSQL")
    ensure_program(PGBOUNCER, "pgbouncer")
    with PgBouncer() as pool:
        yield pool


def _pooled(database_url: str, bouncer: PgBouncer) -> str:
    return bouncer.url(str(make_url(database_url).database))


def _prepared_after_many_runs(url: str, *, pgbouncer: bool) -> int:
    """Server-side prepared statements of the connection that ran one query 20 times."""
    engine = make_engine(normalize_database_url(url), pool_size=1, pgbouncer=pgbouncer)
    try:
        with engine.connect() as conn:
            for _ in range(20):
                conn.execute(text("SELECT count(*) FROM post_schedule WHERE status = :s"),
                             {"s": "pending"})
            return int(conn.execute(text("SELECT count(*) FROM pg_prepared_statements"))
                       .scalar_one())
    finally:
        engine.dispose()


def test_the_pgbouncer_setting_prepares_nothing_on_the_server(database_url, bouncer) -> None:
    # psycopg's default prepares a statement run five times: what breaks transaction pooling.
    assert _prepared_after_many_runs(database_url, pgbouncer=False) > 0
    assert _prepared_after_many_runs(_pooled(database_url, bouncer), pgbouncer=True) == 0


def _published(api: httpx.Client) -> int:
    listed = api.get("/posts", params={"limit": 100}).json()["items"]
    return sum(p["status"] == "published" for p in listed)


def test_serve_and_workers_publish_exactly_once_through_pgbouncer(
        database_url, bouncer, tmp_path: Path) -> None:
    from herald.platforms.fake import FakeServer

    pooled = _pooled(database_url, bouncer)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with FakeServer() as fake:
        fake.state.add_facebook_page(PAGE, PAGE_TOKEN)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        env.update(HERALD_DATABASE_URL=pooled, HERALD_DATABASE_PGBOUNCER="1",
                   HERALD_LISTEN_DATABASE_URL=database_url, HERALD_SECRET_KEY=SECRET,
                   HERALD_GRAPH_API_URL=fake.graph_url, HERALD_LOG_LEVEL="info")
        created = subprocess.run([*HERALD, "company", "create", "Bounced", "--json"], env=env,
                                 cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        token = json.loads(created.stdout)["api_token"]
        logs = [tmp_path / f"{name}.log" for name in ("serve", "w1", "w2")]
        commands = [[*HERALD, "serve", "--port", str(port), "--workers", "2"],
                    [*HERALD, "worker", "--id", "bounced-1"],
                    [*HERALD, "worker", "--id", "bounced-2"]]
        procs: list[subprocess.Popen[str]] = []
        try:
            for command, log in zip(commands, logs, strict=True):
                procs.append(subprocess.Popen(command, env=env, cwd=tmp_path, text=True,
                                              stdout=log.open("w"), stderr=subprocess.STDOUT))
            wait_for(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200,
                  "serve's readiness through PgBouncer", procs)
            wait_for(lambda: all("started" in log.read_text() for log in logs[1:]),
                  "the workers", procs)
            api = httpx.Client(base_url=f"{base}/api/v1", timeout=30,
                               headers={"Authorization": f"Bearer {token}"})
            account = api.post("/accounts", json={
                "platform": "facebook", "external_id": PAGE, "name": "Page",
                "access_token": PAGE_TOKEN})
            assert account.status_code == 201, account.text
            ids: list[str] = []
            # In two waves, the second once the workers are idle again: woken through the
            # LISTEN connection they hold on HERALD_LISTEN_DATABASE_URL.
            for wave in range(2):
                for n in range(15):
                    answer = api.post("/posts", json={
                        "account_id": account.json()["id"], "post_type": "text",
                        "caption": f"wave {wave} post {n}", "run_at": "now"})
                    assert answer.status_code == 201, answer.text
                    ids += [p["id"] for p in answer.json()["items"]]

                wait_for(lambda want=len(ids): _published(api) == want, f"wave {wave}", procs,
                      timeout=60)
                time.sleep(1.5)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)  # all at once, then each in turn
            for proc in procs:
                stop(proc)
        published = fake.state.published(platform="facebook")
    captions = sorted(r.caption for r in published)
    assert captions == sorted(f"wave {w} post {n}" for w in range(2) for n in range(15))
    text_of = {log.name: log.read_text() for log in logs}
    for name, log in text_of.items():
        assert "Traceback" not in log, (name, log[-3000:])
        assert "prepared statement" not in log, (name, log[-3000:])
        assert "LISTEN connection lost" not in log, (name, log[-3000:])
        assert "instead of listening" not in log, (name, log[-3000:])
    assert all(p.returncode == 0 for p in procs), text_of
