"""On time: posts due continuously (RATE a second for SECONDS), each created shortly
before it is due, as users and the API would; lateness = the publish call minus run_at.

    python -m bench.ontime --engine postgresql --rate 50 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from datetime import timedelta
from typing import Any

from bench.common import fresh_database, percentile, seed_company, settings_for
from herald import services
from herald.app import build_worker
from herald.models import utcnow
from herald.platforms.base import PublisherRegistry, PublishJob, PublishResult
from herald.runtime import Herald
from herald.schemas import PostCreate


class Clocked:
    """A publisher that notes when each publish call happens."""

    platform = "facebook"

    def __init__(self) -> None:
        self.lateness: list[float] = []

    async def publish(self, job: PublishJob) -> PublishResult:
        self.lateness.append((utcnow() - job.run_at).total_seconds())
        return PublishResult(external_id=job.post_id)


def _create_stream(herald: Herald, company: str, account: str, rate: int, seconds: float,
                   lead: float, stop: threading.Event) -> int:
    """Create posts due every 1/rate s, each `lead` s before its time, in 100 ms batches."""
    ctx = herald.context(company)
    start = utcnow() + timedelta(seconds=2 * lead + 1)
    total = int(rate * seconds)
    made = 0
    while made < total and not stop.is_set():
        horizon = utcnow() + timedelta(seconds=lead)
        batch = []
        while made < total:
            due = start + timedelta(seconds=made / rate)
            if due > horizon:
                break
            batch.append(due)
            made += 1
        if batch:
            with herald.unit_of_work() as session:
                for due in batch:
                    services.create_posts(session, ctx, PostCreate(
                        account_id=account, post_type="text", caption=f"on time {due}",
                        run_at=due))
        time.sleep(0.1)
    return made


def run(engine: str, rate: int, seconds: float, lead: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmpdir:
        url = fresh_database(engine, f"herald_bench_ontime_{engine}", tmpdir)
        publisher = Clocked()
        herald = Herald.build(settings_for(url), checks=None,
                              registry=PublisherRegistry({"facebook": publisher}))
        company, _, [account] = seed_company(herald.db, herald.cipher,
                                             [("facebook", "p1", "t1")])
        stop = threading.Event()

        async def main() -> int:
            worker = build_worker(herald, worker_id="ontime")
            task = asyncio.create_task(worker.run())
            made = await asyncio.to_thread(_create_stream, herald, company, account, rate,
                                           seconds, lead, stop)
            deadline = time.monotonic() + 30
            while len(publisher.lateness) < made and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            worker.stop()
            await task
            return made

        made = asyncio.run(main())
        herald.db.dispose()
    late = publisher.lateness
    return {"engine": engine, "rate_per_s": rate, "seconds": seconds, "posts": made,
            "published": len(late), "lateness_p50_ms": round(percentile(late, 50) * 1000),
            "lateness_p99_ms": round(percentile(late, 99) * 1000),
            "lateness_max_ms": round(max(late) * 1000) if late else None,
            "early": sum(1 for x in late if x < 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="postgresql")
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--lead", type=float, default=1.0,
                        help="how long before its time each post is created")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    row = run(args.engine, args.rate, args.seconds, args.lead)
    print(json.dumps(row) if args.json else
          f"{row['engine']}: {row['published']}/{row['posts']} posts at {row['rate_per_s']}/s; "
          f"lateness p50={row['lateness_p50_ms']}ms p99={row['lateness_p99_ms']}ms "
          f"max={row['lateness_max_ms']}ms")


if __name__ == "__main__":
    main()
