"""Recurring posts at scale: daily series for ACCOUNTS accounts a year ahead, created
through a real `herald serve` while CLIENTS other clients keep creating single posts.

    python -m bench.series_scale --accounts 1000 --days 365

A series takes at most 100 accounts (the create's limit), so 1,000 accounts are ten
series of 100, created one after another, each FREQ=DAILY;COUNT=DAYS from tomorrow 09:00,
with HERALD_SERIES_WINDOW_DAYS=DAYS: a year of occurrences (365,000 posts) becomes posts.
A `herald worker` runs beside the server (its planning pass every PLANNING seconds).
Measured: each series request's latency; the materialisation's time (from the first
request until every occurrence is a post); the concurrent single creates' p50/p99/max
before and while it runs; and the longest transaction the database saw meanwhile
(pg_stat_activity's xact_start, sampled every 50 ms): what a lock could be held for.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text

from bench.api import _wait_up
from bench.common import fresh_database, percentile, seed_company, settings_for
from bench.platform import free_port, running_workers, worker_env
from herald.models import Post
from herald.runtime import Herald

SERIES_ACCOUNTS = 100  # PostCreate.account_ids' max_length


class Creates(threading.Thread):
    """One client creating single posts in a loop; keeps (start time, latency, status)."""

    def __init__(self, base: str, token: str, accounts: list[str], n: int) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.accounts, self.n = base, token, accounts, n
        self.samples: list[tuple[float, float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=300,
                          headers={"Authorization": f"Bearer {self.token}"}) as client:
            i = 0
            while not self.stop.is_set():
                account = self.accounts[(self.n * 7919 + i * 31) % len(self.accounts)]
                body = {"account_id": account, "post_type": "text",
                        "caption": f"single {self.n}-{i}", "run_at": "2099-01-01T09:00:00Z"}
                started = time.monotonic()
                status = client.post("/api/v1/posts", json=body).status_code
                self.samples.append((started, time.monotonic() - started, status))
                i += 1


class LongestTransaction(threading.Thread):
    """The oldest open transaction of the database, sampled until stopped."""

    def __init__(self, url: str, database: str) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"),
                                    isolation_level="AUTOCOMMIT")
        self.database, self.longest_s, self.what = database, 0.0, ""
        self.stop = threading.Event()

    def run(self) -> None:
        query = text("SELECT extract(epoch FROM now() - xact_start), left(query, 80) "
                     "FROM pg_stat_activity WHERE datname = :db AND xact_start IS NOT NULL "
                     "AND pid <> pg_backend_pid() ORDER BY xact_start LIMIT 1")
        with self.engine.connect() as conn:
            while not self.stop.wait(0.05):
                row = conn.execute(query, {"db": self.database}).first()
                if row is not None and float(row[0]) > self.longest_s:
                    self.longest_s, self.what = float(row[0]), str(row[1])
        self.engine.dispose()


def _stats(latencies: list[float]) -> dict[str, Any]:
    if not latencies:
        return {"requests": 0}
    return {"requests": len(latencies),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1)}


def run(accounts: int, days: int, clients: int, baseline: float, planning: float,
        timeout: float = 1800) -> dict[str, Any]:
    name = "herald_bench_series_scale"
    with tempfile.TemporaryDirectory() as tmpdir:
        url = fresh_database("postgresql", name, tmpdir)
        herald = Herald.from_settings(settings_for(url))
        _, token, ids = seed_company(herald.db, herald.cipher, [
            ("facebook", f"page-{n}", f"token-{n}") for n in range(accounts)])
        herald.db.dispose()
        env = worker_env(url, None, series_window_days=days, planning_interval=planning)
        port = free_port()
        log = open(f"{tmpdir}/serve.log", "wb")  # noqa: SIM115
        server = subprocess.Popen([sys.executable, "-m", "herald", "serve", "--port",
                                   str(port)], env=env, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))

        def made() -> int:
            with engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(Post)
                                        .where(Post.series_id.is_not(None))).scalar_one())

        try:
            try:
                _wait_up(base, timeout=180)  # a loaded 2-core machine starts slowly
            except RuntimeError:
                log.close()
                with open(f"{tmpdir}/serve.log") as f:
                    sys.stderr.write(f.read())
                raise
            with running_workers(1, env, tmpdir):
                creates = [Creates(base, token, ids, n) for n in range(clients)]
                for c in creates:
                    c.start()
                time.sleep(baseline)
                watcher = LongestTransaction(url, name)
                watcher.start()
                first = (datetime.now(UTC) + timedelta(days=1)).replace(
                    hour=9, minute=0, second=0, microsecond=0)
                requests: list[dict[str, Any]] = []
                started = time.monotonic()
                with httpx.Client(base_url=base, timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}"}) as client:
                    for n, start in enumerate(range(0, accounts, SERIES_ACCOUNTS)):
                        body = {"account_ids": ids[start:start + SERIES_ACCOUNTS],
                                "post_type": "text", "caption": f"Daily {n}",
                                "run_at": first.isoformat(),
                                "recurrence": {"rule": "FREQ=DAILY", "timezone": "UTC",
                                               "count": days}}
                        t = time.monotonic()
                        response = client.post("/api/v1/series", json=body)
                        requests.append({"status": response.status_code,
                                         "seconds": round(time.monotonic() - t, 3)})
                requested = time.monotonic()
                expected = accounts * days
                deadline = time.monotonic() + timeout
                count = made()
                while count < expected and time.monotonic() < deadline:
                    time.sleep(0.5)
                    count = made()
                materialised = time.monotonic()
                watcher.stop.set()
                watcher.join()
                time.sleep(1.0)
                for c in creates:
                    c.stop.set()
                for c in creates:
                    c.join()
        finally:
            engine.dispose()
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    samples = [s for c in creates for s in c.samples]
    before = [lat for at, lat, _ in samples if at < started]
    during = [lat for at, lat, _ in samples if started <= at < materialised]
    return {"accounts": accounts, "days": days, "clients": clients,
            "series": len(requests), "statuses": sorted({r["status"] for r in requests}),
            "request_s": [r["seconds"] for r in requests],
            "request_max_s": max(r["seconds"] for r in requests),
            "requests_s": round(requested - started, 2),
            "materialised_s": round(materialised - started, 2),
            "occurrences": count, "expected": expected,
            "creates_before": _stats(before), "creates_during": _stats(during),
            "create_errors": sum(1 for *_, status in samples if status != 201),
            "longest_transaction_s": round(watcher.longest_s, 2),
            "longest_transaction_query": watcher.what}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--clients", type=int, default=4,
                        help="clients creating single posts meanwhile")
    parser.add_argument("--baseline", type=float, default=5.0,
                        help="seconds of single creates before the first series")
    parser.add_argument("--planning", type=float, default=60.0,
                        help="HERALD_PLANNING_INTERVAL of the worker")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    r = run(args.accounts, args.days, args.clients, args.baseline, args.planning)
    if args.json:
        print(json.dumps(r))
        return
    print(f"{r['series']} series ({r['accounts']} accounts, {r['days']} daily occurrences): "
          f"statuses {r['statuses']}, requests {r['request_s']} s (longest "
          f"{r['request_max_s']} s, all {r['requests_s']} s); {r['occurrences']}/"
          f"{r['expected']} posts after {r['materialised_s']} s\n"
          f"single creates ({r['clients']} clients) before: {r['creates_before']}\n"
          f"single creates while materialising: {r['creates_during']}, "
          f"errors {r['create_errors']}\n"
          f"longest transaction {r['longest_transaction_s']} s: "
          f"{r['longest_transaction_query']!r}")


if __name__ == "__main__":
    main()
