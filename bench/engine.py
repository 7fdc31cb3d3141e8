"""Engine: N posts due at once, a no-op publisher; claims+completions per second.

    python -m bench.engine --engines postgresql,mariadb,sqlite --posts 20000 --workers 1,2,4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import tempfile
import time
from typing import Any

from bench.common import fresh_database, seed_company, seed_posts, settings_for
from herald.app import build_worker
from herald.models import utcnow
from herald.platforms.base import PublisherRegistry, PublishJob, PublishResult
from herald.runtime import Herald


class NoopPublisher:
    def __init__(self, platform: str) -> None:
        self.platform = platform

    async def publish(self, job: PublishJob) -> PublishResult:
        return PublishResult(external_id=f"noop-{job.post_id}")


def _worker_process(url: str, index: int, start_at: float, results: Any, batch: int) -> None:
    herald = Herald.build(settings_for(url),
                          registry=PublisherRegistry({"facebook": NoopPublisher("facebook")}))
    worker = build_worker(herald, worker_id=f"bench-{index}", concurrency=batch,
                          batch_size=batch, listen=False)

    async def main() -> Any:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        started = time.monotonic()
        totals = await worker.run(until_idle=True)
        return totals.published, time.monotonic() - started

    published, elapsed = asyncio.run(main())
    results.put((index, published, elapsed))


def run(engine: str, posts: int, workers: int, tmpdir: str, batch: int = 200,
        database: str | None = None) -> dict[str, Any]:
    url = fresh_database(engine, database or f"herald_bench_engine_{engine}", tmpdir)
    herald = Herald.from_settings(settings_for(url))
    company, _, accounts = seed_company(herald.db, herald.cipher,
                                        [("facebook", "page-1", "token-1")])
    seed_posts(herald.db, company, accounts, ["facebook"], posts, utcnow())
    herald.db.dispose()
    results: Any = mp.get_context("spawn").Queue()
    start_at = time.time() + 2.0  # every process imported and connected before the clock
    # The workers' CPU time (user + sys, start-up included) is steadier than posts/s on a
    # shared machine: it is what an A/B of two commits should compare.
    cpu_before = _children_cpu()
    procs = [mp.get_context("spawn").Process(target=_worker_process,
                                             args=(url, i, start_at, results, batch))
             for i in range(workers)]
    for p in procs:
        p.start()
    finished = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    published = sum(r[1] for r in finished)
    wall = max(r[2] for r in finished)
    cpu = _children_cpu() - cpu_before
    return {"engine": engine, "workers": workers, "batch": batch, "posts": posts,
            "published": published,
            "seconds": round(wall, 2), "per_second": round(published / wall),
            "cpu_us_per_post": round(cpu * 1e6 / max(published, 1), 1)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engines", default="postgresql,mariadb,sqlite")
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--workers", default="1", help="comma-separated worker counts")
    parser.add_argument("--batch", type=int, default=200,
                        help="claim batch size and concurrency per worker")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for engine in args.engines.split(","):
            for n in [int(w) for w in args.workers.split(",")]:
                row = run(engine, args.posts, n, tmpdir, args.batch)
                rows.append(row)
                if not args.json:
                    print(f"{engine:<10} workers={n} posts={row['published']} "
                          f"in {row['seconds']}s = {row['per_second']} claims+completions/s, "
                          f"{row['cpu_us_per_post']} µs worker CPU a post",
                          flush=True)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
