"""Burst: N posts due in the same second across Instagram, Facebook and LinkedIn,
published by real `herald worker` processes through the real clients over real HTTP to
the platform fake answering every call after LATENCY seconds (1.2 s: the seed design's
measured image-post time).

    python -m bench.burst --engine postgresql --posts 5000 --workers 1,4 --latency 1.2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bench.common import (
    drop_database,
    fresh_database,
    percentile,
    seed_company,
    seed_posts,
    settings_for,
)
from bench.platform import (
    Fake,
    cpu_seconds,
    database_backends,
    machine_busy,
    peak_rss_mb,
    running_fake,
    running_workers,
    worker_env,
)
from herald.db import Database
from herald.models import Post, PublishAttempt, utcnow
from herald.runtime import Herald
from tests.media_files import image_bytes

PLATFORMS = ("instagram", "facebook", "linkedin")


def _external(platform: str, n: int) -> str:
    return {"instagram": f"17841{n:09d}", "facebook": f"10{n:09d}",
            "linkedin": f"urn:li:person:bench{n}"}[platform]


def setup(engine: str, fake: Fake, posts: int, accounts_per_platform: int, tmpdir: str,
          lead: float) -> tuple[str, Any]:
    # One database per run: another benchmark (bench.peers) may run a burst meanwhile.
    url = fresh_database(engine, f"herald_bench_burst_{engine}_{os.getpid()}", tmpdir)
    herald = Herald.from_settings(settings_for(url))
    # Generous platform limits: the benchmark measures Herald, not Instagram's 50 a day.
    fake.configure(ig_quota_total=1_000_000, li_daily_limit=1_000_000)
    image = fake.put_file("burst.jpg", image_bytes(size=(1080, 1080)), "image/jpeg")
    accounts = []
    for platform in PLATFORMS:
        for n in range(accounts_per_platform):
            external = _external(platform, n)
            token = f"tok-{platform}-{n}"
            fake.add_account(platform, external, token)
            accounts.append((platform, external, token))
    company, _, ids = seed_company(herald.db, herald.cipher, accounts)
    run_at = utcnow() + timedelta(seconds=lead)
    # Interleave platforms so each account gets a share; captions are distinct (Facebook
    # refuses identical consecutive posts, LinkedIn treats them as duplicates).
    order = list(range(len(ids)))
    seed_posts(herald.db, company, [ids[i] for i in order],
                          [accounts[i][0] for i in order], posts, run_at,
                          media=None)
    with herald.db.engine.begin() as conn:
        conn.execute(Post.__table__.update().where(Post.platform == "instagram")
                     .values(media=[{"url": image, "type": "image"}]))
    herald.db.dispose()
    return url, run_at


def run(engine: str, posts: int, workers: int, latency: float, concurrency: int | None,
        accounts: int, lead: float, timeout: float) -> dict[str, Any]:
    """One burst; `concurrency` None runs the workers at Herald's default settings."""
    with tempfile.TemporaryDirectory() as tmpdir, running_fake(latency=latency) as fake:
        url, run_at = setup(engine, fake, posts, accounts, tmpdir, lead)
        knobs: dict[str, Any] = {"lease_seconds": 120}
        if concurrency is not None:
            knobs.update(worker_concurrency=concurrency,
                         worker_batch_size=min(concurrency, 200))
        env = worker_env(url, fake, **knobs)
        db = Database.from_settings(settings_for(url))
        with running_workers(workers, env, tmpdir) as procs:
            # CPU from the due time on: the workers' start-up is not the burst's.
            time.sleep(max(0.0, run_at.timestamp() - time.time()))
            pids = [p.pid for p in procs]
            database = url.rsplit("/", 1)[1]
            before = _cpu(pids, fake.pid, database)
            deadline = time.monotonic() + timeout
            done = 0
            while time.monotonic() < deadline:
                with db.engine.connect() as conn:
                    done = conn.execute(select(func.count()).where(
                        Post.status.in_(("published", "failed", "unconfirmed")))).scalar_one()
                if done >= posts:
                    break
                time.sleep(0.25)
            after = _cpu(pids, fake.pid, database)
            peak_rss = [round(peak_rss_mb(pid), 1) for pid in pids]
        with db.engine.connect() as conn:
            statuses = dict(conn.execute(select(Post.status, func.count())
                                         .group_by(Post.status)).all())  # type: ignore[arg-type]
            # Attempts beyond one a post, by why the earlier one ended (a retry's wait is
            # in the drain time: HERALD_RETRY_BASE_SECONDS, 30 s).
            retried = {str(code): n for code, n in conn.execute(
                select(PublishAttempt.error_code, func.count())
                .where(PublishAttempt.outcome != "published")
                .group_by(PublishAttempt.error_code)).all()}
        db.dispose()
        records = [r for r in fake.published() if not r.get("dropped")]
    drop_database(engine, url)
    times = sorted(_ts(r["published_at"]) for r in records)
    lateness = [t - run_at.timestamp() for t in times]
    by_platform: dict[str, float] = {}
    for r in records:
        late = _ts(r["published_at"]) - run_at.timestamp()
        by_platform[r["platform"]] = round(max(late, by_platform.get(r["platform"], 0.0)), 2)
    cpu = {k: round(after[k] - before[k], 2) for k in after}
    wall = cpu.pop("wall_s")
    return {
        "engine": engine, "workers": workers, "posts": posts, "latency_s": latency,
        "drain_by_platform_s": by_platform,
        "concurrency_per_worker": concurrency if concurrency is not None else "default",
        "published": statuses.get("published", 0),
        "statuses": statuses, "retried": retried,
        "drain_s": round(max(lateness), 2) if lateness else None,
        "lateness_p50_s": round(percentile(lateness, 50), 2) if lateness else None,
        "lateness_p99_s": round(percentile(lateness, 99), 2) if lateness else None,
        "lateness_max_s": round(max(lateness), 2) if lateness else None,
        # CPU seconds from the due time until the queue drained: the workers', the fake's,
        # PostgreSQL's for this database (its connections' processes), and the whole
        # machine's (whatever else runs on it too), of `wall_s` seconds on `cores` cores.
        "cpu_s": cpu, "wall_s": round(wall, 2), "cores": os.cpu_count(),
        "worker_peak_rss_mb": max(peak_rss) if peak_rss else None,
        "worker_peak_rss_each_mb": peak_rss,
    }


def _cpu(workers: list[int], fake: int, database: str) -> dict[str, float]:
    busy, _ = machine_busy()
    server = 0.0
    for pid in database_backends(database):  # PostgreSQL: a process per connection
        with contextlib.suppress(OSError):  # one that closed meanwhile
            server += cpu_seconds(pid)
    return {"workers": sum(cpu_seconds(pid) for pid in workers), "fake": cpu_seconds(fake),
            "database": server, "machine": busy, "wall_s": time.monotonic()}


def _ts(value: Any) -> float:
    from datetime import datetime

    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="postgresql")
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--latency", type=float, default=1.2)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="HERALD_WORKER_CONCURRENCY of each worker (and the batch size, "
                             "up to 200); left out, the workers run at Herald's defaults")
    parser.add_argument("--accounts", type=int, default=50, help="accounts per platform")
    parser.add_argument("--lead", type=float, default=8.0,
                        help="seconds between seeding and the burst's due time")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [run(args.engine, args.posts, int(w), args.latency, args.concurrency,
                args.accounts, args.lead, args.timeout) for w in args.workers.split(",")]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(f"{r['engine']} workers={r['workers']} posts={r['posts']} "
                  f"published={r['published']} drained in {r['drain_s']}s; lateness "
                  f"p50={r['lateness_p50_s']}s p99={r['lateness_p99_s']}s "
                  f"max={r['lateness_max_s']}s; drained by platform "
                  f"{r['drain_by_platform_s']}; CPU s {r['cpu_s']} in {r['wall_s']} s; "
                  f"worker peak RSS {r['worker_peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
