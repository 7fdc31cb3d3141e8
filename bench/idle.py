"""Idle: a worker with nothing due for SECONDS: database queries it issued (through its
engine; on PostgreSQL the LISTEN connection also sends one `SELECT 1` health probe every
30 s, not counted here), CPU seconds and resident memory of the whole process; then the
resident memory of a real `herald worker` process on the same database after WORKER_WAIT
seconds (the benchmark's own process also holds the harness).

    python -m bench.idle --engines postgresql,mariadb,sqlite --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from bench.common import fresh_database, seed_company, seed_posts, settings_for
from bench.platform import running_workers, worker_env
from herald.app import build_worker
from herald.models import utcnow
from herald.runtime import Herald

#: Seconds a real `herald worker` runs before its memory is read.
WORKER_WAIT = 15.0


def _rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(engine: str, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmpdir:
        url = fresh_database(engine, f"herald_bench_idle_{engine}", tmpdir)
        herald = Herald.from_settings(settings_for(url))
        company, _, accounts = seed_company(herald.db, herald.cipher,
                                            [("facebook", "p1", "t1")])
        # Something scheduled, but not within the run: the worker must wait for it cheaply.
        seed_posts(herald.db, company, accounts, ["facebook"], 100,
                   utcnow() + timedelta(hours=2))
        statements: list[str] = []

        @event.listens_for(herald.db.engine, "before_cursor_execute")
        def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            verb = statement.split(None, 1)[0].upper()
            if verb not in ("BEGIN", "COMMIT", "ROLLBACK"):  # transaction control
                statements.append(verb)

        async def main() -> None:
            worker = build_worker(herald, worker_id="idle")
            task = asyncio.create_task(worker.run())
            await asyncio.sleep(3)  # start-up: connect, LISTEN, first sweep
            statements.clear()
            before = resource.getrusage(resource.RUSAGE_SELF)
            await asyncio.sleep(seconds)
            after = resource.getrusage(resource.RUSAGE_SELF)
            result["cpu_s"] = round((after.ru_utime + after.ru_stime)
                                    - (before.ru_utime + before.ru_stime), 3)
            result["statements"] = len(statements)
            worker.stop()
            await task

        result: dict[str, Any] = {"engine": engine, "seconds": seconds}
        asyncio.run(main())
        result["rss_mb"] = round(_rss_mb(), 1)
        result["statements_per_s"] = round(result["statements"] / seconds, 2)
        herald.db.dispose()
        result["worker_rss_mb"] = _worker_rss_mb(url, tmpdir, min(seconds, WORKER_WAIT))
    return result


def _worker_rss_mb(url: str, tmpdir: str, wait: float) -> float:
    """VmRSS of a `herald worker` process (nothing due) `wait` seconds after its start."""
    with running_workers(1, worker_env(url, None), tmpdir) as procs:
        time.sleep(wait)
        if procs[0].poll() is not None:
            raise RuntimeError(f"herald worker exited (see {tmpdir}/worker-0.log)")
        return round(_rss_mb(procs[0].pid), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="postgresql,mariadb,sqlite")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [run(e, args.seconds) for e in args.engines.split(",")]
    if args.json:
        print(json.dumps(rows))
    for r in rows if not args.json else []:
        print(f"{r['engine']}: {r['statements']} statements in {r['seconds']}s "
              f"({r['statements_per_s']}/s), CPU {r['cpu_s']}s, RSS {r['rss_mb']} MB; "
              f"herald worker RSS {r['worker_rss_mb']} MB")


if __name__ == "__main__":
    main()
