"""On time: posts due continuously (RATE a second for SECONDS), each created shortly
before it is due, as users and the API would; lateness = the publish call minus run_at.

    python -m bench.ontime --engine postgresql --rate 50 --seconds 60
    python -m bench.ontime --engine postgresql --rate 200 --seconds 60 --workers 4

Without --workers: one worker in this process, whose publisher notes when it is called.
With --workers N: N `herald worker` processes at Herald's defaults publish Facebook posts
over real HTTP to the platform fake (answering at once), and lateness is the time the fake
received the publishing call; the posts are written in bulk (the API's rows, and its
NOTIFY), 100 ms of them at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from bench.common import (
    drop_database,
    fresh_database,
    percentile,
    seed_company,
    seed_posts,
    settings_for,
)
from bench.platform import running_fake, running_workers, worker_env
from herald import services
from herald.app import build_worker
from herald.models import Post, utcnow
from herald.platforms.base import PublisherRegistry, PublishJob, PublishResult
from herald.queue.store import notify
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


def _create_stream(herald: Herald, company: str, accounts: list[str], rate: int,
                   seconds: float, lead: float, stop: threading.Event,
                   bulk: bool = False) -> int:
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
        if batch and bulk:
            # The rows the API writes, a batch in one statement, then the NOTIFY it sends:
            # at 200 a second on a loaded 2-core machine the service path (audit log,
            # validation) fell behind the stream, and a post created late is refused.
            seed_posts(herald.db, company, accounts, ["facebook"], len(batch), batch,
                       caption=f"on time {made - len(batch)}")
            with herald.db.engine.begin() as conn:
                notify(conn)
        elif batch:
            with herald.unit_of_work() as session:
                for due in batch:
                    # Captions name the due time: the fake's record is matched back by it.
                    services.create_posts(session, ctx, PostCreate(
                        account_id=accounts[hash(due) % len(accounts)], post_type="text",
                        caption=f"on time {due.isoformat()}", run_at=due))
        time.sleep(0.1)
    return made


def run_workers(engine: str, rate: int, seconds: float, lead: float, workers: int,
                accounts: int = 20) -> dict[str, Any]:
    """The stream published by `workers` real worker processes through the fake."""
    with tempfile.TemporaryDirectory() as tmpdir, running_fake() as fake:
        url = fresh_database(engine, f"herald_bench_ontime_{engine}_{os.getpid()}", tmpdir)
        herald = Herald.build(settings_for(url), checks=None)
        pages = [("facebook", f"20{n:09d}", f"tok-ontime-{n}") for n in range(accounts)]
        for platform, external, token in pages:
            fake.add_account(platform, external, token)
        company, _, ids = seed_company(herald.db, herald.cipher, pages)
        stop = threading.Event()
        with running_workers(workers, worker_env(url, fake), tmpdir):
            _wait_listening(herald, workers)
            made = _create_stream(herald, company, ids, rate, seconds, lead, stop,
                                  bulk=True)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if len(fake.published()) >= made:
                    break
                time.sleep(0.5)
        records = fake.published()
        with herald.db.engine.connect() as conn:
            due = dict(conn.execute(select(Post.caption, Post.scheduled_at)).all())
        herald.db.dispose()
    drop_database(engine, url)
    late = [_ts(r["published_at"]) - _as_utc(due[r["caption"]]).timestamp()
            for r in records if r.get("caption") in due]
    return _summary(engine, rate, seconds, made, late) | {"workers": workers}


def _wait_listening(herald: Herald, workers: int, timeout: float = 120.0) -> None:
    """Until every worker has started (on PostgreSQL: its LISTEN connection is up), so the
    stream measures workers at work, not a loaded machine starting Python processes."""
    deadline = time.monotonic() + timeout
    if herald.db.dialect != "postgresql":
        time.sleep(10.0)
        return
    while time.monotonic() < deadline:
        with herald.db.engine.connect() as conn:
            listening = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND query ILIKE 'LISTEN%'")).scalar_one()
        if listening >= workers:
            return
        time.sleep(0.2)
    raise RuntimeError("the workers did not start listening")


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _ts(value: Any) -> float:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _summary(engine: str, rate: int, seconds: float, made: int,
             late: list[float]) -> dict[str, Any]:
    return {"engine": engine, "rate_per_s": rate, "seconds": seconds, "posts": made,
            "published": len(late), "lateness_p50_ms": round(percentile(late, 50) * 1000),
            "lateness_p99_ms": round(percentile(late, 99) * 1000),
            "lateness_max_ms": round(max(late) * 1000) if late else None,
            "early": sum(1 for x in late if x < 0)}


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
            made = await asyncio.to_thread(_create_stream, herald, company, [account], rate,
                                           seconds, lead, stop)
            deadline = time.monotonic() + 30
            while len(publisher.lateness) < made and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            worker.stop()
            await task
            return made

        made = asyncio.run(main())
        herald.db.dispose()
    return _summary(engine, rate, seconds, made, publisher.lateness)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="postgresql")
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--lead", type=float, default=1.0,
                        help="how long before its time each post is created")
    parser.add_argument("--workers", type=int, default=0,
                        help="`herald worker` processes publishing through the platform "
                             "fake (default: one worker in this process, no HTTP)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    row = (run_workers(args.engine, args.rate, args.seconds, args.lead, args.workers)
           if args.workers else run(args.engine, args.rate, args.seconds, args.lead))
    print(json.dumps(row) if args.json else
          f"{row['engine']}: {row['published']}/{row['posts']} posts at {row['rate_per_s']}/s; "
          f"lateness p50={row['lateness_p50_ms']}ms p99={row['lateness_p99_ms']}ms "
          f"max={row['lateness_max_ms']}ms")


if __name__ == "__main__":
    main()
