"""The seed design as a baseline: a cron tick every TICK seconds claims at most 5 due posts
and publishes them one at a time — the loop of the seed's post-scheduler.worker.ts,
reproduced here (with its own SQL, as the seed wrote it) so the ratio to Herald is
measured, not quoted. Both publish the same burst through the real clients to the fake
answering each call after LATENCY seconds.

    python -m bench.seed_baseline --posts 15 --tick 60 --latency 1.2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from typing import Any

from sqlalchemy import text

from bench.common import fresh_database, seed_company, seed_posts, settings_for
from bench.platform import running_fake
from herald.models import utcnow
from herald.publishing import Publishing, load_jobs
from herald.queue import Claim, Outcome
from herald.runtime import Herald

BATCH = 5  # the seed's BATCH_SIZE


def _seed_claim(herald: Herald, worker: str) -> list[Claim]:
    """The seed's STEP 3: SELECT … LIMIT 5 FOR UPDATE, then mark them processing."""
    # SQLite has no FOR UPDATE; its transactions here begin IMMEDIATE instead.
    lock = "" if herald.db.dialect == "sqlite" else " FOR UPDATE"
    with herald.db.engine.begin() as conn:
        rows = conn.execute(text(
            "SELECT post_id, attempts FROM post_schedule WHERE status = 'pending' "
            f"AND run_at <= :now ORDER BY run_at LIMIT 5{lock}"), {"now": _naive()}).all()
        for post_id, attempts in rows:
            conn.execute(text(
                "UPDATE post_schedule SET status = 'processing', worker_id = :w, "
                "attempts = attempts + 1 WHERE post_id = :id"), {"w": worker, "id": post_id})
            conn.execute(text(
                "INSERT INTO publish_attempts (post_id, attempt, worker_id, started_at, phase,"
                " platform_ids, outcome) VALUES (:id, :n, :w, :now, 'claimed', '{}', "
                "'running')"), {"id": post_id, "n": attempts + 1, "w": worker, "now": _naive()})
    return [Claim(post_id, attempts + 1, worker) for post_id, attempts in rows]


def _naive() -> Any:
    return utcnow().replace(tzinfo=None)


async def seed_loop(herald: Herald, total: int, tick: float) -> float:
    """Run cron ticks until every post is done; returns seconds from the first tick."""
    publishing = Publishing(queue=herald.queue(), registry=herald.registry,
                            engine=herald.db.engine)
    queue = herald.queue()
    started = time.monotonic()
    done = 0
    while done < total:
        tick_at = time.monotonic()
        claims = await asyncio.to_thread(_seed_claim, herald, "seed")
        for prepared in await asyncio.to_thread(load_jobs, herald.db.engine, herald.cipher,
                                                queue, claims):
            outcome: Outcome = await publishing.run(prepared)  # one at a time, as the seed
            await asyncio.to_thread(queue.finish, [outcome], now=utcnow())
            done += outcome.kind != "retry"
        if done < total:
            await asyncio.sleep(max(0.0, tick - (time.monotonic() - tick_at)))
    return time.monotonic() - started


async def herald_burst(herald: Herald, total: int) -> float:
    started = time.monotonic()
    worker = herald.build_worker(worker_id="herald", listen=False)
    await worker.run(until_idle=True)
    return time.monotonic() - started


def _prepare(engine: str, fake: Any, posts: int, tmpdir: str, name: str) -> Herald:
    url = fresh_database(engine, f"herald_bench_seed_{name}", tmpdir)
    herald = Herald.from_settings(settings_for(
        url, graph_api_url=fake.url + "/graph", linkedin_api_url=fake.url + "/linkedin"))
    accounts = [("facebook", f"10{n:09d}", f"tok-{name}-{n}") for n in range(5)]
    for platform, external, token in accounts:
        fake.add_account(platform, external, token)
    company, _, ids = seed_company(herald.db, herald.cipher, accounts)
    seed_posts(herald.db, company, ids, ["facebook"], posts, utcnow(),
               caption=f"{name} post")
    return herald


def run(engine: str, posts: int, tick: float, latency: float) -> dict[str, Any]:
    results: dict[str, Any] = {"engine": engine, "posts": posts, "tick_s": tick,
                               "latency_s": latency}
    with tempfile.TemporaryDirectory() as tmpdir, running_fake(latency=latency) as fake:
        for name, loop in (("seed", lambda h: seed_loop(h, posts, tick)),
                           ("herald", lambda h: herald_burst(h, posts))):
            herald = _prepare(engine, fake, posts, tmpdir, name)

            async def main(prepared: Herald = herald, go: Any = loop) -> float:
                h = Herald.build(prepared.settings, db=prepared.db, platforms=True)
                try:
                    return float(await go(h))
                finally:
                    await h.aclose()

            results[f"{name}_s"] = round(asyncio.run(main()), 1)
            herald.db.dispose()
    results["ratio"] = round(results["seed_s"] / results["herald_s"], 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="postgresql")
    parser.add_argument("--posts", type=int, default=15)
    parser.add_argument("--tick", type=float, default=60.0, help="the cron period (seed: 60)")
    parser.add_argument("--latency", type=float, default=1.2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    row = run(args.engine, args.posts, args.tick, args.latency)
    print(json.dumps(row) if args.json else
          f"{row['posts']} posts: seed loop {row['seed_s']}s, Herald {row['herald_s']}s "
          f"({row['ratio']}x)")


if __name__ == "__main__":
    main()
