"""Herald against what a user would pick instead, in the same run: Procrastinate (a
PostgreSQL job queue) and Celery on Redis with ETA tasks.

    python -m bench.peers --posts 10000 --burst 5000 --latency 1.2 --workers 4

Three figures, each for the three side by side, with the same number of worker
processes and the same concurrency in each:
- engine: POSTS jobs due at once, a no-op task; claims+completions per second (Herald's
  as bench.engine measures it).
- burst: BURST Facebook text posts due in the same second, published through the
  platform fake over real HTTP, every call answered after LATENCY seconds; each peer's
  task makes the two calls Herald's Facebook client makes (POST /{page}/feed, GET the
  permalink). Drain time and lateness from the fake's own record of each post.
- duplicates: DUP_POSTS posts due DUP_AHEAD seconds ahead with Celery's Redis visibility
  timeout set to VISIBILITY seconds (shorter than the ETA): how many posts the fake
  received more than once, counted from its log of every publishing call. Herald and
  Procrastinate count the same way.

The peers come from the `bench` extra (`pip install -e '.[bench]'`; `make install` does).
Redis: PEERS_REDIS_URL, default redis://127.0.0.1:6379/9 (that database is flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, func, select, text

from bench import engine as herald_engine
from bench.common import PG_SERVER, fresh_database, percentile, seed_company, seed_posts
from bench.common import settings_for as herald_settings
from bench.platform import Fake, running_fake, running_workers, worker_env
from herald.db import Database
from herald.models import Post, utcnow
from herald.runtime import Herald

REDIS_URL = os.environ.get("PEERS_REDIS_URL", "redis://127.0.0.1:6379/9")
SYSTEMS = ("herald", "procrastinate", "celery")


# --- shared -----------------------------------------------------------------------------

def _pg_database(name: str) -> str:
    """An empty PostgreSQL database (no Herald schema); its libpq DSN."""
    admin = create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://")
                          + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG_SERVER}/{name}"


def _peer_env(fake: Fake | None, concurrency: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HERALD_", "PEERS_"))}
    env.update(PEERS_REDIS_URL=REDIS_URL, PEERS_CONCURRENCY=str(concurrency),
               PEERS_GRAPH_VERSION=herald_settings("sqlite://").graph_api_version)
    if fake is not None:
        env["PEERS_FAKE_URL"] = fake.url
    env.update(extra)
    return env


def _accounts(fake: Fake, count: int, prefix: str) -> list[tuple[str, str, str]]:
    accounts = []
    for n in range(count):
        page, token = f"{prefix}{n:06d}", f"tok-{prefix}-{n}"
        fake.add_account("facebook", page, token)
        accounts.append(("facebook", page, token))
    return accounts


def _calls_by_caption(fake: Fake) -> Counter[str]:
    """Publishing calls the fake received per caption (applied, refused or faulted)."""
    response = fake.admin.get("/commits")
    response.raise_for_status()
    return Counter(str(c.get("caption") or "") for c in response.json()["data"])


def _lateness(fake: Fake, run_at: datetime) -> dict[str, Any]:
    times = sorted(_ts(r["published_at"]) - run_at.timestamp()
                   for r in fake.published() if not r.get("dropped"))
    if not times:
        return {"published": 0, "drain_s": None, "lateness_p50_s": None,
                "lateness_p99_s": None}
    return {"published": len(times), "drain_s": round(times[-1], 2),
            "lateness_p50_s": round(percentile(times, 50), 2),
            "lateness_p99_s": round(percentile(times, 99), 2)}


def _ts(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _duplicates(calls: Counter[str], captions: list[str]) -> dict[str, int]:
    counts = [calls.get(c, 0) for c in captions]
    return {"posts": len(captions), "ran": sum(1 for n in counts if n),
            "more_than_once": sum(1 for n in counts if n > 1),
            "extra_calls": sum(n - 1 for n in counts if n > 1),
            "never": sum(1 for n in counts if n == 0)}


def _wait(done: Any, target: int, timeout: float, poll: float = 0.2) -> int:
    deadline = time.monotonic() + timeout
    seen = done()
    while seen < target and time.monotonic() < deadline:
        time.sleep(poll)
        seen = done()
    return int(seen)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# --- Procrastinate ----------------------------------------------------------------------

def _procrastinate_app(dsn: str) -> Any:
    from bench.peers_procrastinate import app_for

    return app_for(dsn)


async def _procrastinate_defer(dsn: str, task: str, kwargs: list[dict[str, Any]],
                               schedule_at: datetime | None, schema: bool) -> None:
    app = _procrastinate_app(dsn)
    async with app.open_async():
        if schema:
            await app.schema_manager.apply_schema_async()
        options: dict[str, Any] = {"schedule_at": schedule_at} if schedule_at else {}
        deferrer = app.configure_task(task, **options)
        for start in range(0, len(kwargs), 1000):
            await deferrer.batch_defer_async(*kwargs[start:start + 1000])


def _procrastinate_done(dsn: str, statuses: str = "'succeeded', 'failed'") -> Any:
    engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg://"))

    def done() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM procrastinate_jobs "
                f"WHERE status IN ({statuses})")).scalar_one())

    done.dispose = engine.dispose  # type: ignore[attr-defined]
    return done


def _procrastinate_workers(dsn: str, env: dict[str, str], count: int, concurrency: int,
                           log_dir: str, *, until_idle: bool = False,
                           start_at: float = 0.0) -> list[subprocess.Popen[bytes]]:
    args = [sys.executable, "-m", "bench.peers_procrastinate",
            "--concurrency", str(concurrency)]
    if until_idle:
        args += ["--until-idle", "--start-at", repr(start_at)]
    procs = []
    for i in range(count):
        log = open(os.path.join(log_dir, f"procrastinate-{i}.log"), "wb")  # noqa: SIM115
        procs.append(subprocess.Popen(args, env={**env, "PEERS_PG_DSN": dsn},
                                      stdout=subprocess.PIPE if until_idle else log,
                                      stderr=log))
    return procs


# --- Celery -----------------------------------------------------------------------------

def _redis() -> Any:
    import redis

    return redis.Redis.from_url(REDIS_URL)


@contextmanager
def _celery_workers(env: dict[str, str], count: int, concurrency: int, log_dir: str
                    ) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`celery worker` processes with a thread pool of CONCURRENCY; yields once all are
    ready (each notes it in Redis from the worker_ready signal)."""
    r = _redis()
    r.delete("peers:ready")
    procs = []
    try:
        for i in range(count):
            log = open(os.path.join(log_dir, f"celery-{i}.log"), "wb")  # noqa: SIM115
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "bench.peers_celery", "worker",
                 "--pool", "threads", "--concurrency", str(concurrency), "--loglevel",
                 "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
                 "--hostname", f"peers{i}@%h"], env=env, stdout=log, stderr=log))
        if _wait(lambda: r.llen("peers:ready"), count, 120) < count:
            raise RuntimeError(f"the Celery workers did not start (logs in {log_dir})")
        yield procs
    finally:
        _stop(procs)


def _celery_send(task: str, args: list[tuple[Any, ...]], eta: datetime | None,
                 env: dict[str, str]) -> None:
    # The app reads its broker options from the environment when imported: send from a
    # process with the workers' environment, so both sides agree on them.
    payload = json.dumps({"task": task, "args": args,
                          "eta": eta.isoformat() if eta else None})
    subprocess.run([sys.executable, "-c", _CELERY_SENDER], input=payload.encode(),
                   env=env, check=True)


_CELERY_SENDER = """
import json, sys
from datetime import datetime
from bench.peers_celery import app
job = json.load(sys.stdin)
eta = datetime.fromisoformat(job["eta"]) if job["eta"] else None
with app.producer_or_acquire() as producer:
    for args in job["args"]:
        app.send_task(job["task"], args=args, eta=eta, producer=producer)
"""


def _celery_reset() -> Any:
    r = _redis()
    r.flushdb()
    return r


# --- engine -----------------------------------------------------------------------------

def engine_figure(system: str, posts: int, workers: int, concurrency: int, tmpdir: str
                  ) -> dict[str, Any]:
    if system == "herald":
        row = herald_engine.run("postgresql", posts, workers, tmpdir,
                                batch=min(concurrency, 200),
                                database="herald_bench_peers_engine_herald")
        return {"system": system, "posts": posts, "done": row["published"],
                "seconds": row["seconds"], "per_second": row["per_second"]}
    env = _peer_env(None, concurrency)
    if system == "procrastinate":
        dsn = _pg_database("herald_bench_peers_engine")
        asyncio.run(_procrastinate_defer(dsn, "peers.noop", [{"n": n} for n in range(posts)],
                                         None, schema=True))
        start_at = time.time() + 3.0  # every process imported and connected first
        procs = _procrastinate_workers(dsn, env, workers, concurrency, tmpdir,
                                       until_idle=True, start_at=start_at)
        elapsed = []
        for p in procs:
            out, _ = p.communicate(timeout=900)
            elapsed += [float(line.split()[1]) for line in out.decode().splitlines()
                        if line.startswith("elapsed ")]
        done = _procrastinate_done(dsn)
        finished = done()
        done.dispose()
        seconds = max(elapsed) if elapsed else float("nan")
    else:
        r = _celery_reset()
        _celery_send("peers.noop", [(n,) for n in range(posts)], None, env)
        with _celery_workers(env, workers, concurrency, tmpdir):
            # Measured from the first worker's ready signal (the queue was filled before
            # any worker started) to the last task's own completion time.
            finished = _wait(lambda: int(r.get("peers:done") or 0), posts, 900, poll=0.1)
            ready = min(float(t) for t in r.lrange("peers:ready", 0, -1))
            seconds = float(r.get("peers:last") or ready) - ready
    return {"system": system, "posts": posts, "done": finished, "seconds": round(seconds, 2),
            "per_second": round(finished / seconds) if seconds > 0 else None}


# --- burst ------------------------------------------------------------------------------

def burst_figure(system: str, posts: int, workers: int, concurrency: int, latency: float,
                 accounts: int, lead: float, tmpdir: str, *, ahead: float | None = None,
                 visibility: float | None = None, settle: float = 0.0) -> dict[str, Any]:
    """POSTS Facebook posts due LEAD (or AHEAD) seconds from now, through the fake."""
    lead = ahead if ahead is not None else lead
    with running_fake(latency=latency) as fake:
        fake.configure(ig_quota_total=1_000_000, li_daily_limit=1_000_000)
        pages = _accounts(fake, accounts, f"1{SYSTEMS.index(system)}")
        captions = [f"{system} post {n}" for n in range(posts)]
        if system == "herald":
            run_at, failed = _herald_burst(fake, pages, posts, workers, concurrency, lead,
                                           tmpdir, captions, settle)
        elif system == "procrastinate":
            run_at, failed = _procrastinate_burst(fake, pages, posts, workers, concurrency,
                                                  lead, tmpdir, captions, settle)
        else:
            run_at, failed = _celery_burst(fake, pages, posts, workers, concurrency, lead,
                                           tmpdir, captions, visibility, settle)
        row = {"system": system, "posts": posts, "workers": workers,
               "concurrency": concurrency, "latency_s": latency, **_lateness(fake, run_at),
               "failed": failed, "calls": _duplicates(_calls_by_caption(fake), captions)}
    return row


def _herald_burst(fake: Fake, pages: list[tuple[str, str, str]], posts: int, workers: int,
                  concurrency: int, lead: float, tmpdir: str, captions: list[str],
                  settle: float) -> tuple[datetime, int]:
    url = fresh_database("postgresql", "herald_bench_peers_burst", tmpdir)
    herald = Herald.from_settings(herald_settings(url))
    company, _, ids = seed_company(herald.db, herald.cipher, pages)
    env = worker_env(url, fake, worker_concurrency=concurrency,
                     worker_batch_size=min(concurrency, 200))
    db = Database.from_settings(herald_settings(url))

    def done() -> int:
        with db.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(
                Post.status.in_(("published", "failed", "unconfirmed")))).scalar_one())

    with running_workers(workers, env, tmpdir):
        # As for the peers, the workers are up before the posts are queued: each worker
        # LISTENs, and the queue's insert trigger wakes them.
        _wait(lambda: _listening(db, "herald_bench_peers_burst"), workers, 120)
        run_at = utcnow() + timedelta(seconds=lead)
        seed_posts(herald.db, company, ids, ["facebook"], posts, run_at,
                   caption="herald post")  # captions "herald post <i>", as `captions`
        herald.db.dispose()
        _wait(done, posts, lead + 900, poll=0.5)
        time.sleep(settle)
    with db.engine.connect() as conn:
        failed = int(conn.execute(select(func.count()).where(
            Post.status.in_(("failed", "unconfirmed")))).scalar_one())
    db.dispose()
    return run_at, failed


def _listening(db: Database, name: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
            "AND query LIKE 'LISTEN%'"), {"db": name}).scalar_one())


def _procrastinate_burst(fake: Fake, pages: list[tuple[str, str, str]], posts: int,
                         workers: int, concurrency: int, lead: float, tmpdir: str,
                         captions: list[str], settle: float) -> tuple[datetime, int]:
    dsn = _pg_database("herald_bench_peers_burst_procrastinate")
    asyncio.run(_procrastinate_defer(dsn, "peers.publish", [], None, schema=True))
    done = _procrastinate_done(dsn)
    failed = _procrastinate_done(dsn, "'failed'")
    procs = _procrastinate_workers(dsn, _peer_env(fake, concurrency), workers, concurrency,
                                   tmpdir)
    engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg://"))
    try:
        def up() -> int:
            with engine.connect() as conn:
                return int(conn.execute(text(
                    "SELECT count(*) FROM procrastinate_workers")).scalar_one())

        _wait(up, workers, 120)  # each worker registers itself when it starts
        run_at = datetime.now(UTC) + timedelta(seconds=lead)
        kwargs = [{"page": pages[n % len(pages)][1], "token": pages[n % len(pages)][2],
                   "caption": captions[n]} for n in range(posts)]
        asyncio.run(_procrastinate_defer(dsn, "peers.publish", kwargs, run_at, schema=False))
        _wait(done, posts, lead + 900, poll=0.5)
        time.sleep(settle)
        count = failed()
    finally:
        _stop(procs)
        done.dispose()
        failed.dispose()
        engine.dispose()
    return run_at, count


def _celery_burst(fake: Fake, pages: list[tuple[str, str, str]], posts: int, workers: int,
                  concurrency: int, lead: float, tmpdir: str, captions: list[str],
                  visibility: float | None, settle: float) -> tuple[datetime, int]:
    r = _celery_reset()
    extra = {"PEERS_VISIBILITY_TIMEOUT": str(visibility)} if visibility else {}
    env = _peer_env(fake, concurrency, **extra)
    with _celery_workers(env, workers, concurrency, tmpdir):
        # As for Herald and Procrastinate: the workers are up, then the posts are queued,
        # due LEAD seconds later.
        run_at = datetime.now(UTC) + timedelta(seconds=lead)
        args = [(pages[n % len(pages)][1], pages[n % len(pages)][2], captions[n])
                for n in range(posts)]
        _celery_send("peers.publish", args, run_at, env)
        _wait(lambda: int(r.get("peers:done") or 0), posts, lead + 900, poll=0.5)
        time.sleep(settle)
    return run_at, int(r.get("peers:failed") or 0)


# --- the run ----------------------------------------------------------------------------

def run(posts: int, burst: int, workers: int, concurrency: int, latency: float,
        accounts: int, lead: float, dup_posts: int, dup_ahead: float, visibility: float,
        dup_settle: float, systems: tuple[str, ...] = SYSTEMS) -> dict[str, Any]:
    out: dict[str, Any] = {"workers": workers, "concurrency": concurrency,
                           "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmpdir:
        out["engine"] = [engine_figure(s, posts, workers, concurrency, tmpdir)
                         for s in systems]
        out["burst"] = [burst_figure(s, burst, workers, concurrency, latency, accounts,
                                     lead, tmpdir) for s in systems]
        # Celery's ETA past the visibility timeout; a short latency (the calls are not
        # what is measured) and time after the last completion for late copies.
        out["duplicates"] = [burst_figure(s, dup_posts, workers, concurrency, 0.05,
                                          accounts, lead, tmpdir, ahead=dup_ahead,
                                          visibility=visibility, settle=dup_settle)
                             for s in systems]
    out["load_after"] = os.getloadavg()[0]
    out["visibility_timeout_s"], out["eta_ahead_s"] = visibility, dup_ahead
    out["ratios"] = ratios(out)
    return out


def ratios(out: dict[str, Any]) -> dict[str, Any]:
    """Herald's figure over each peer's: engine rate Herald/peer, burst drain peer/Herald
    (above 1: Herald is faster in both)."""
    engine = {r["system"]: r for r in out["engine"]}
    burst = {r["system"]: r for r in out["burst"]}
    result: dict[str, Any] = {}
    for peer in (s for s in engine if s != "herald"):
        mine, theirs = engine["herald"]["per_second"], engine[peer]["per_second"]
        result[f"engine herald/{peer}"] = round(mine / theirs, 2) if mine and theirs else None
        mine, theirs = burst["herald"]["drain_s"], burst[peer]["drain_s"]
        result[f"burst drain {peer}/herald"] = round(theirs / mine, 2) \
            if mine and theirs else None
    return result


def render(out: dict[str, Any]) -> str:
    lines = [f"{out['workers']} worker processes each, concurrency {out['concurrency']}; "
             f"load average {out['load_before']:.1f} before, {out['load_after']:.1f} after"]
    for r in out["engine"]:
        lines.append(f"engine  {r['system']:<13} {r['done']}/{r['posts']} in {r['seconds']} s"
                     f" = {r['per_second']}/s")
    for r in out["burst"]:
        lines.append(f"burst   {r['system']:<13} {r['published']}/{r['posts']} drained in "
                     f"{r['drain_s']} s, lateness p50 {r['lateness_p50_s']} s p99 "
                     f"{r['lateness_p99_s']} s, failed {r['failed']}, more than once "
                     f"{r['calls']['more_than_once']}")
    for r in out["duplicates"]:
        c = r["calls"]
        lines.append(f"dup     {r['system']:<13} {c['ran']}/{c['posts']} ran, "
                     f"{c['more_than_once']} more than once ({c['extra_calls']} extra calls), "
                     f"{c['never']} never; ETA {out['eta_ahead_s']} s ahead, Celery's "
                     f"visibility timeout {out['visibility_timeout_s']} s")
    lines += [f"ratio   {k} = {v}" for k, v in out["ratios"].items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=10000, help="engine: jobs due at once")
    parser.add_argument("--burst", type=int, default=5000, help="burst: posts due at once")
    parser.add_argument("--workers", type=int, default=4, help="worker processes of each")
    parser.add_argument("--concurrency", type=int, default=300,
                        help="jobs in flight per worker process, for each system")
    parser.add_argument("--latency", type=float, default=1.2,
                        help="burst: seconds the fake takes for every call")
    parser.add_argument("--accounts", type=int, default=50, help="Facebook Pages")
    parser.add_argument("--lead", type=float, default=10.0,
                        help="seconds between queueing and the burst's due time")
    parser.add_argument("--dup-posts", type=int, default=200)
    parser.add_argument("--dup-ahead", type=float, default=30.0,
                        help="duplicates: seconds ahead the posts are due (Celery's ETA)")
    parser.add_argument("--visibility", type=float, default=10.0,
                        help="duplicates: Celery's Redis visibility_timeout, seconds")
    parser.add_argument("--dup-settle", type=float, default=15.0,
                        help="duplicates: seconds to wait after the last completion")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = run(args.posts, args.burst, args.workers, args.concurrency, args.latency,
              args.accounts, args.lead, args.dup_posts, args.dup_ahead, args.visibility,
              args.dup_settle, tuple(args.systems.split(",")))
    print(json.dumps(out) if args.json else render(out), flush=True)


if __name__ == "__main__":
    main()
