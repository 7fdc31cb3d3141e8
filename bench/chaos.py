"""Chaos test: many posts, faulty platforms, workers SIGKILLed, the database restarted.

    .venv/bin/python -m bench.chaos --engine postgresql            # 1,000 posts, 4 workers
    .venv/bin/python -m bench.chaos --engine mariadb
    .venv/bin/python -m bench.chaos --engine sqlite                # 2 workers, one file
    .venv/bin/python -m bench.chaos --engine postgresql --quick    # 60 posts, ~30 s
    .venv/bin/python -m bench.chaos --engine postgresql --pgbouncer  # workers through PgBouncer

It starts the platform fake as its own process, registers accounts of every platform in
bench.chaos_fake.PLATFORMS (Instagram accounts, Facebook Pages, LinkedIn members and
organizations, Threads profiles, Bluesky accounts on the fake PDS), seeds the same
accounts and N posts with distinct captions into a fresh database (with recurring series
for the workers' planning passes to expand, and posts added to the queue of accounts with
a posting schedule: bench.chaos_series, bench.chaos_queued), and makes the fake misbehave
(transient 5xx, stalls, dropped and reset connections, a few throttles, and commits
applied by the platform whose answer is lost). Then W `herald worker` processes publish
while the harness SIGKILLs one every couple of seconds (starting a replacement) and
restarts the database server once. When no post is pending or processing it checks, from
the fake's own record, that every post went out exactly once and that Herald's statuses
and ids agree, prints a table and exits 1 if an invariant failed (2 on a harness error).

Logs (each worker's, the fake's, the restart's) and result.json go to --out (default
/tmp/herald-chaos-ENGINE-TIME). See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from bench.chaos_check import judge, table, verify
from bench.chaos_db import (
    OPEN_STATUSES,
    Restart,
    claimed_since,
    finishing_workers,
    journals,
    queue_counts,
    reader,
    seed_posts,
    set_server_urls,
    snapshot,
    working_workers,
)
from bench.chaos_diagnose import (
    cause_counts,
    duplicate_causes,
    format_commits,
    format_journal,
    still_open,
)
from bench.chaos_fake import (
    PLATFORMS,
    FakePlatforms,
    FaultPlan,
    access_counts,
    make_accounts,
)
from bench.chaos_procs import WorkerPool
from bench.chaos_queued import LEAD_SECONDS as QUEUED_LEAD
from bench.chaos_queued import ZONE as QUEUED_ZONE
from bench.chaos_queued import latest_slot, seed_queued, slots_invariant
from bench.chaos_series import HORIZON as SERIES_HORIZON
from bench.chaos_series import LEAD_SECONDS as SERIES_LEAD
from bench.chaos_series import RULE as SERIES_RULE
from bench.chaos_series import first_occurrences, seed_series
from bench.common import SECRET, fresh_database, seed_at
from bench.pgbouncer import PgBouncer
from herald.config import Settings
from herald.models import utcnow

ENGINES = ("postgresql", "mariadb", "sqlite")
#: This many workers in a row exiting within 15 s of their start is a crash loop (a
#: schema change, a bad setting): the run stops as a harness error.
CRASH_LOOP = 4
#: After the restart, this long without kills: every worker must show it resumed.
AFTER_RESTART = 5.0
#: The default kill rate: one SIGKILL per worker this often on average.
KILL_EVERY_WORKER_SECONDS = 8.0
#: Before the restart every worker must have been up this long (past its start-up).
RESTART_SETTLE = 8.0


@dataclass
class Options:
    engine: str
    posts: int
    #: Recurring series whose occurrences the workers make (bench.chaos_series).
    series: int
    #: Posts added to the queue ("next_slot") of accounts with a schedule (chaos_queued).
    queued: int
    workers: int
    spread: float
    accounts: int
    #: None: Herald's default (HERALD_MAX_ATTEMPTS unset), as for the settings below.
    max_attempts: int | None
    kill_interval: float
    min_age: float
    restart: bool
    restart_at: float
    plan: FaultPlan
    seed: int
    time_cap: float
    lease: float
    rescue_interval: float
    retry_base: float | None
    retry_max: float | None
    platform_cap: int
    out: Path
    quiet: bool
    pgbouncer: bool = False
    #: Kill only workers that finished an attempt (or are min_age old), not any that
    #: claimed one: on a slow machine a worker otherwise dies holding its first batch.
    kill_after_finish: bool = False
    #: The database the run drops and makes anew (on PostgreSQL and MariaDB, a name).
    database: str = ""


@dataclass
class Events:
    """A timestamped log of what the harness did, printed as it goes."""

    t0: float
    quiet: bool
    items: list[str] = field(default_factory=list)

    def __call__(self, message: str) -> None:
        line = f"[{time.monotonic() - self.t0:7.2f}s] {message}"
        self.items.append(line)
        if not self.quiet:
            print(line, flush=True)


class Interrupted(Exception):
    """SIGTERM or SIGINT: stop everything, then report what was seen so far."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engine", choices=ENGINES, default="postgresql")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 60 posts, 2 workers, spread 8 s, 2 accounts a platform, "
                        "no throttling")
    p.add_argument("--posts", type=int, help="posts to publish (default 1000; quick 60)")
    p.add_argument("--series", type=int,
                   help="recurring series, expanded by the workers' planning passes "
                        "(default 100; quick 6)")
    p.add_argument("--queued", type=int,
                   help="posts added to the queue (run_at next_slot) of accounts with a "
                        "posting schedule, a slot a minute (default 3 per account; quick 2)")
    p.add_argument("--workers", type=int,
                   help="worker processes (default 4, SQLite 2; quick 2)")
    p.add_argument("--spread", type=float,
                   help="posts are due from now to this many seconds (default 20; quick 8)")
    p.add_argument("--accounts", type=int,
                   help="accounts per platform (default 4; quick 2)")
    p.add_argument("--max-attempts", type=int,
                   help="HERALD_MAX_ATTEMPTS (default: Herald's, 3)")
    p.add_argument("--kill-interval", type=float,
                   help="SIGKILL a random worker this often, seconds (0: never; default "
                        f"{KILL_EVERY_WORKER_SECONDS:g} / workers, i.e. 2 s with 4 workers, "
                        "so each worker is killed about every 8 s whatever the pool size)")
    p.add_argument("--min-age", type=float, default=15.0,
                   help="kill only workers seen claiming posts, or up this long (seconds)")
    p.add_argument("--kill-after-finish", action="store_true",
                   help="kill only workers that have finished an attempt (or are up "
                        "--min-age), not any that claimed one: progress on a loaded machine")
    p.add_argument("--no-restart", action="store_true", help="do not restart the database")
    p.add_argument("--restart-at", type=float, default=0.3,
                   help="restart the database once this fraction of posts is finished "
                        "(or after max(15 s, 1.5 x spread))")
    p.add_argument("--transient", type=float, default=0.30,
                   help="share of calls answered 5xx (Graph code 1/2)")
    p.add_argument("--drop", type=float, default=0.02,
                   help="share of commit calls applied but answered by a dropped connection")
    p.add_argument("--stall", type=float, default=0.02,
                   help="share of calls stalled --stall-seconds, then applied")
    p.add_argument("--stall-lost", type=float, default=0.01,
                   help="share of calls stalled, then dropped without being applied")
    p.add_argument("--reset", type=float, default=0.01,
                   help="share of calls whose connection is reset, not applied")
    p.add_argument("--stall-seconds", type=float, default=2.0)
    p.add_argument("--throttles", type=int,
                   help="Graph throttling answers at most, each holding one account 60 s "
                        "(default 4; quick 0)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--time-cap", type=float,
                   help="give up after this many seconds of publishing (default 900; quick 300)")
    # The only settings scaled from Herald's defaults: the SIGKILLed workers' leases run
    # out in seconds rather than a minute (60 s and 15 s in production).
    p.add_argument("--lease", type=float, default=6.0,
                   help="HERALD_LEASE_SECONDS (default 6; Herald's 60)")
    p.add_argument("--rescue-interval", type=float, default=1.0,
                   help="HERALD_RESCUE_INTERVAL (default 1; Herald's 15)")
    p.add_argument("--retry-base", type=float,
                   help="HERALD_RETRY_BASE_SECONDS (default: Herald's, 30)")
    p.add_argument("--retry-max", type=float,
                   help="HERALD_RETRY_MAX_SECONDS (default: Herald's, 60)")
    p.add_argument("--platform-cap", type=int, default=0,
                   help="HERALD_PLATFORM_CONCURRENCY for every platform (0: no cap)")
    p.add_argument("--pgbouncer", action="store_true",
                   help="PostgreSQL: the workers reach it through a PgBouncer in transaction "
                        "pooling (HERALD_DATABASE_PGBOUNCER=1, LISTEN over "
                        "HERALD_LISTEN_DATABASE_URL); Debian's pgbouncer package")
    p.add_argument("--database", help="the database to drop and make anew (default "
                                      "herald_chaos_ENGINE_PID, one per run)")
    p.add_argument("--out", type=Path, help="directory for logs and result.json")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    a = p.parse_args(argv)
    if a.pgbouncer and a.engine != "postgresql":
        p.error("--pgbouncer pools PostgreSQL only")
    quick = bool(a.quick)
    workers = a.workers or (2 if quick or a.engine == "sqlite" else 4)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    throttles = a.throttles if a.throttles is not None else (0 if quick else 4)
    return Options(
        engine=a.engine, posts=a.posts or (60 if quick else 1000),
        series=a.series if a.series is not None else (6 if quick else 100),
        queued=a.queued if a.queued is not None else (
            (2 if quick else 3) * 3 * (a.accounts or (2 if quick else 4))),
        workers=workers,
        spread=a.spread if a.spread is not None else (8.0 if quick else 20.0),
        accounts=a.accounts or (2 if quick else 4), max_attempts=a.max_attempts,
        kill_interval=(a.kill_interval if a.kill_interval is not None
                       else KILL_EVERY_WORKER_SECONDS / workers), min_age=a.min_age,
        restart=not a.no_restart and a.engine != "sqlite", restart_at=a.restart_at,
        plan=FaultPlan(transient=a.transient, drop=a.drop, stall=a.stall,
                       stall_lost=a.stall_lost, reset=a.reset, stall_seconds=a.stall_seconds,
                       throttles=throttles, throttle_rate=0.01 if throttles else 0.0),
        seed=a.seed, time_cap=a.time_cap or (300.0 if quick else 900.0), lease=a.lease,
        rescue_interval=a.rescue_interval, retry_base=a.retry_base, retry_max=a.retry_max,
        platform_cap=a.platform_cap,
        out=a.out or Path(f"/tmp/herald-chaos-{a.engine}-{stamp}"), quiet=a.quiet,
        pgbouncer=a.pgbouncer, kill_after_finish=a.kill_after_finish,
        # One database per run by default: two runs on one server (helpers sharing a
        # machine) would otherwise DROP ... WITH (FORCE) each other's database mid-run.
        database=a.database or f"herald_chaos_{a.engine}_{os.getpid()}",
    )


def worker_env(opts: Options, url: str, fake: FakePlatforms,
               pooled: str | None = None) -> dict[str, str]:
    """The workers' environment; with `pooled`, they reach `url` through that PgBouncer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    if pooled:
        env.update(HERALD_DATABASE_PGBOUNCER="1", HERALD_LISTEN_DATABASE_URL=url)
    env.update({
        "HERALD_DATABASE_URL": pooled or url,
        "HERALD_SECRET_KEY": SECRET,
        **fake.settings(),
        # Bluesky accounts' PDS is the fake on loopback.
        "HERALD_ALLOW_PRIVATE_SERVER_URLS": "1",
        "HERALD_LEASE_SECONDS": str(opts.lease),
        "HERALD_RESCUE_INTERVAL": str(opts.rescue_interval),
        "HERALD_PLANNING_INTERVAL": "1",
        "HERALD_ALLOW_PRIVATE_MEDIA_URLS": "1",
        "HERALD_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    # Everything else at Herald's defaults, as users get them, unless asked otherwise.
    for name, value in (("HERALD_RETRY_BASE_SECONDS", opts.retry_base),
                        ("HERALD_RETRY_MAX_SECONDS", opts.retry_max),
                        ("HERALD_MAX_ATTEMPTS", opts.max_attempts)):
        if value is not None:
            env[name] = str(value)
    if opts.platform_cap:
        env["HERALD_PLATFORM_CONCURRENCY"] = json.dumps(
            dict.fromkeys((p.name for p in PLATFORMS), opts.platform_cap))
    return env


def settings_said(opts: Options) -> str:
    """The workers' settings that differ from Herald's defaults, for the report."""
    changed = [f"HERALD_LEASE_SECONDS={opts.lease:g}",
               f"HERALD_RESCUE_INTERVAL={opts.rescue_interval:g}",
               "HERALD_PLANNING_INTERVAL=1"]
    for name, value in (("HERALD_RETRY_BASE_SECONDS", opts.retry_base),
                        ("HERALD_RETRY_MAX_SECONDS", opts.retry_max),
                        ("HERALD_MAX_ATTEMPTS", opts.max_attempts)):
        if value is not None:
            changed.append(f"{name}={value:g}")
    return "defaults but " + " ".join(changed)


#: Worker log lines worth counting: what the workers went through.
LOG_PATTERNS = {
    "tracebacks": re.compile(r"^Traceback "),
    "rescue_sweeps_with_posts": re.compile(r"rescued \d+ posts"),
    "listen_lost": re.compile(r"LISTEN connection lost"),
    "outcomes_not_recorded": re.compile(r"could not record \d+ outcomes"),
    "heartbeat_failed": re.compile(r"heartbeat failed"),
    "rescue_sweep_failed": re.compile(r"rescue sweep failed"),
    "unexpected_publish_errors": re.compile(r"failed unexpectedly"),
    "accounts_backed_off": re.compile(r"backed off until"),
    "db_operational_errors": re.compile(r"OperationalError"),
}


def scan_logs(paths: list[Path]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            for name, pattern in LOG_PATTERNS.items():
                if pattern.search(line):
                    counts[name] += 1
    return {name: counts.get(name, 0) for name in LOG_PATTERNS}


#: Problems whose journals are kept in result.json (up to EVIDENCE_PER per platform).
EVIDENCE_KINDS = ("duplicate", "lost", "id_mismatch", "failed_but_out", "unconfirmed", "stuck")
EVIDENCE_PER = 10


def gather_evidence(db: Any, platforms: dict[str, Any], seeded: list[Any],
                    commits: list[dict[str, Any]]) -> tuple[dict[str, dict[str, list[str]]],
                                                            dict[str, dict[str, int]]]:
    """For problem posts: Herald's journal next to the platform's commit log, by post;
    and, per platform, what caused each extra copy of a duplicated post."""
    caption_of = {p.post_id: p.caption for p in seeded}
    calls: dict[str, list[dict[str, Any]]] = {}
    for call in commits:
        calls.setdefault(str(call.get("caption") or ""), []).append(call)
    wanted: dict[str, list[str]] = {}
    for name, r in platforms.items():
        for kind in EVIDENCE_KINDS:
            ids = r.problem_ids.get(kind, [])[:EVIDENCE_PER]
            if ids:
                wanted[f"{name} {kind}"] = ids
    duplicated = {name: r.problem_ids.get("duplicate", []) for name, r in platforms.items()}
    every = {pid for ids in wanted.values() for pid in ids}
    every.update(pid for ids in duplicated.values() for pid in ids)
    rows = journals(db, sorted(every))
    evidence: dict[str, dict[str, list[str]]] = {}
    for key, ids in wanted.items():
        evidence[key] = {pid: [*format_journal(rows.get(pid, [])),
                               *format_commits(calls.get(caption_of[pid], []))]
                         for pid in ids}
    causes = {name: cause_counts({pid: duplicate_causes(rows.get(pid, []),
                                                        calls.get(caption_of[pid], []))
                                  for pid in ids})
              for name, ids in duplicated.items() if ids}
    return evidence, causes


def source_state() -> dict[str, Any]:
    """Which Herald code ran: the commit, files changed since, a hash of the package."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    files: dict[str, str] = {}
    for path in sorted((root / "herald").rglob("*.py")):
        name = str(path.relative_to(root))
        content = path.read_bytes()
        digest.update(name.encode())
        digest.update(content)
        files[name] = hashlib.sha256(content).hexdigest()[:12]
    state: dict[str, Any] = {"herald_sha256": digest.hexdigest()[:16], "files": files}
    try:
        state["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
            text=True, timeout=10, check=False).stdout.strip()
        state["modified"] = subprocess.run(
            ["git", "status", "--porcelain", "--", "herald"], cwd=root, capture_output=True,
            text=True, timeout=10, check=False).stdout.split("\n")[:20]
        state["modified"] = [line for line in state["modified"] if line.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    return state


def run(opts: Options) -> tuple[int, dict[str, Any]]:
    opts.out.mkdir(parents=True, exist_ok=True)
    events = Events(time.monotonic(), opts.quiet)
    rng = random.Random(opts.seed)
    tag = f"{opts.engine[:2]}{opts.seed}{time.strftime('%H%M%S')}"
    fake = FakePlatforms(log=opts.out / "fake.log", seed=opts.seed)
    pool: WorkerPool | None = None
    restart: Restart | None = None
    db: Engine | None = None
    bouncer: PgBouncer | None = None
    result: dict[str, Any] = {"engine": opts.engine, "out": str(opts.out),
                              "pgbouncer": opts.pgbouncer, "source": source_state()}
    timed_out = False
    try:
        fake.start()
        events(f"platform fake on {fake.base} (pid {fake.proc.pid if fake.proc else '?'})")
        accounts = make_accounts(opts.accounts)
        image_url = fake.setup(accounts, opts.plan, seed=opts.seed)

        url = fresh_database(opts.engine, opts.database, str(opts.out))
        company, _, account_ids = seed_at(
            url, [(a.platform, a.external_id, a.token) for a in accounts])
        set_server_urls(url, fake.server_urls())
        max_attempts = opts.max_attempts or Settings.model_fields["max_attempts"].default
        seeded = seed_posts(url, company, accounts, account_ids, count=opts.posts,
                            spread=opts.spread, max_attempts=max_attempts,
                            image_url=image_url, tag=tag, seed=opts.seed)
        events(f"{opts.engine}: {len(seeded)} posts over {len(accounts)} accounts, due within "
               f"{opts.spread:g}s, max_attempts {max_attempts}; {settings_said(opts)}")
        series = seed_series(url, company, accounts, account_ids, count=opts.series,
                             spread=opts.spread, image_url=image_url, tag=tag, seed=opts.seed)
        events(f"{len(series)} recurring series ({SERIES_RULE}), first occurrences due "
               f"{SERIES_LEAD:g}-{SERIES_LEAD + opts.spread:g}s from now, not yet made")
        queued = seed_queued(url, company, accounts, account_ids, count=opts.queued,
                             max_attempts=max_attempts, image_url=image_url, tag=tag)
        events(f"{len(queued)} posts added to the queue (run_at next_slot) of "
               f"{len(accounts)} accounts with a schedule in {QUEUED_ZONE}, a slot a "
               f"minute from {QUEUED_LEAD:g}s on")
        horizon = utcnow() + SERIES_HORIZON
        rules = fake.inject(opts.plan)
        throttles_set = sum(int(r.get("count") or 0) for r in rules if r["kind"] == "throttle")
        events(f"{len(rules)} fault rules injected (seed {opts.seed})")

        pooled = None
        if opts.pgbouncer:
            bouncer = PgBouncer(folder=opts.out / "pgbouncer").start()
            pooled = bouncer.url(opts.database)
            events(f"workers through PgBouncer (transaction pooling) at {pooled}")
        pool = WorkerPool(size=opts.workers, env=worker_env(opts, url, fake, pooled),
                          log_dir=opts.out, cwd=opts.out, rng=rng)
        db = reader(url)
        last_slot = latest_slot(db, queued)
        if last_slot is not None:
            events(f"the last queued post's slot is {last_slot.isoformat()}")
        t_start = time.monotonic()
        pool.fill()
        events(f"{opts.workers} workers started: "
               + ", ".join(f"{w.worker_id}(pid {w.proc.pid})" for w in pool.workers))
        if opts.restart:
            restart = Restart(opts.engine, opts.out / "restart.log")
        next_kill = t_start + opts.kill_interval if opts.kill_interval > 0 else float("inf")
        next_check = next_status = t_start
        counts: dict[str, int] = {}
        finished_at: float | None = None
        armed_at: float | None = None
        restart_done_at: float | None = None
        restart_done_wall = utcnow()
        through: list[str] = []
        working: set[str] = set()
        while True:
            now = time.monotonic()
            if restart is not None and restart.done and restart_done_at is None:
                restart_done_at = now
                restart_done_wall = utcnow()
                events(f"restart {'done' if restart.ok else 'FAILED'}: outage "
                       f"{restart.outage_seconds or 0:.2f}s {restart.error or ''}; no kills "
                       f"for {AFTER_RESTART:g}s")
            if (restart_done_at is not None and "restart_survivors" not in result
                    and now - restart_done_at >= AFTER_RESTART):
                alive = {w.worker_id for w in pool.workers if w.proc.poll() is None}
                result["restart_survivors"] = [w for w in through if w in alive]
                events(f"{len(result['restart_survivors'])}/{len(through)} workers rode out "
                       "the restart")
            # From the moment the restart is due until it is over, the workers running
            # must ride it out on their own: no kills and no new worker, so none is
            # half-started when the server goes down.
            quiet = restart is not None and (restart.running or (
                armed_at is not None and restart.started_at is None) or (
                restart_done_at is not None and now - restart_done_at < AFTER_RESTART))
            for dead in pool.reap(replace=not quiet):
                events(f"WORKER {dead.worker_id} EXITED BY ITSELF (code {dead.returncode}) "
                       f"after {dead.uptime:.1f}s{' around the restart' if quiet else ''}"
                       f"; log {dead.log}")
            crashing = pool.unexpected[-CRASH_LOOP:]
            if len(crashing) == CRASH_LOOP and all(u.uptime < 15 for u in crashing):
                raise RuntimeError(
                    f"{CRASH_LOOP} workers in a row exited at start-up; the last said:\n"
                    f"{crashing[-1].log_tail}")
            if not quiet:
                pool.fill()
            if now >= next_kill and not quiet:
                seen_working = (finishing_workers if opts.kill_after_finish
                                else working_workers)(db, [w.worker_id for w in pool.workers])
                working |= seen_working or set()
                victim = pool.kill_random(working=working, min_age=opts.min_age)
                if victim is not None:
                    events(f"SIGKILL {victim.worker_id} (pid {victim.proc.pid}); started "
                           f"{pool.workers[-1].worker_id}")
                    next_kill = now + opts.kill_interval * rng.uniform(0.75, 1.25)
                else:
                    next_kill = now + 0.25
            if now >= next_check:
                next_check = now + 0.5
                seen = queue_counts(db, before=horizon)
                if seen is not None:
                    counts = seen
                open_posts = sum(counts.get(s, 0) for s in OPEN_STATUSES)
                finished = opts.posts + opts.series + len(queued) - open_posts
                if (restart is not None and armed_at is None and counts
                        and (finished >= opts.restart_at * opts.posts
                             or now - t_start >= max(15.0, 1.5 * opts.spread))):
                    armed_at = now
                    events(f"restart due ({finished}/{opts.posts} finished): pausing kills "
                           f"until every worker is up {RESTART_SETTLE:g}s")
                if (restart is not None and armed_at is not None
                        and restart.started_at is None
                        and (pool.youngest_age() >= RESTART_SETTLE
                             or now - armed_at >= 2 * RESTART_SETTLE)):
                    restart.start()
                    through = [w.worker_id for w in pool.workers]
                    events(f"restarting the {opts.engine} server ({finished}/{opts.posts} "
                           "finished; workers "
                           + ", ".join(w.worker_id for w in pool.workers) + ")")
                if (seen is not None and open_posts == 0 and not quiet
                        and (not series or time.monotonic() - t_start > SERIES_LEAD
                             + opts.spread)):
                    finished_at = now
                    events(f"no post pending or processing: {counts}")
                    break
            if now >= next_status:
                next_status = now + 5.0
                events(f"queue {counts}; workers {len(pool.workers)}, kills {pool.kills}")
            if now - t_start > opts.time_cap:
                timed_out = True
                events(f"TIME CAP {opts.time_cap:g}s reached with {counts}")
                alive = {w.worker_id for w in pool.workers if w.proc.poll() is None}
                result["open_at_cap"] = still_open(db, alive, before=horizon)
                for line in result["open_at_cap"]:
                    events(f"  still open: {line}")
                break
            time.sleep(0.1)
        wall = (finished_at or time.monotonic()) - t_start
        pool.stop_all(grace=10.0)
        events("workers stopped")
        if restart is not None and restart.running:
            restart.join(timeout=restart.timeout)
        published, commits = fake.published(), fake.commits()
        throttles_left = sum(int(r.get("count") or 0) for r in fake.faults_left()
                             if r.get("kind") == "throttle")
        for name, data in (("published", published), ("commits", commits)):
            with open(opts.out / f"fake-{name}.json", "w", encoding="utf-8") as f:
                json.dump(data, f)
        if through and restart_done_at is not None:
            result["restart_resumed"] = sorted(claimed_since(db, through, restart_done_wall))
        snap = snapshot(db)
        occurrences, series_invariants = first_occurrences(db, series)
        seeded = seeded + occurrences + queued
        found = verify(seeded, snap, published, commits)
        evidence, causes = gather_evidence(db, found.platforms, seeded, commits)
        verdict = judge(found, unexpected_exits=len(pool.unexpected),
                        restart_planned=opts.restart,
                        restart_ok=bool(restart and restart.ok), timed_out=timed_out)
        if series:
            verdict.invariants += series_invariants
        if queued:
            verdict.invariants.append(slots_invariant(db, queued))
        fake.stop()
        calls = access_counts(fake.log)
        source_after = source_state()
        before, after = result["source"]["files"], source_after["files"]
        changed = sorted(f for f in before.keys() | after.keys()
                         if before.get(f) != after.get(f))
        if changed:
            result["source_changed_during_run"] = {
                "commit": source_after.get("commit"), "files": changed}
        result.update({
            "ok": verdict.ok,
            "posts": opts.posts, "series": opts.series, "queued": len(queued),
            "workers": opts.workers,
            "accounts_per_platform": opts.accounts,
            "spread_s": opts.spread, "max_attempts": opts.max_attempts, "seed": opts.seed,
            "settings": settings_said(opts), "lease_s": opts.lease, "wall_s": round(wall, 1),
            "timed_out": timed_out,
            "kills": pool.kills, "kill_after_finish": opts.kill_after_finish,
            "workers_started": pool.started_total,
            "unexpected_exits": [u.as_dict() for u in pool.unexpected],
            "restart": restart.as_dict() if restart else None,
            "faults": opts.plan.as_dict(),
            "graph_throttles_sent": throttles_set - throttles_left,
            "api_calls": calls,
            "platform_records": len(published), "commit_calls": len(commits),
            "journal_outcomes": snap.journal_outcomes, "journal_phases": snap.journal_phases,
            "error_codes": snap.error_codes, "rescued_posts": snap.rescued_posts,
            "rescues": snap.rescues, "worker_logs": scan_logs(pool.all_logs()),
            "platforms": {k: v.as_dict() for k, v in verdict.platforms.items()},
            "invariants": [{"name": n, "ok": ok, "detail": d} for n, ok, d in verdict.invariants],
            "duplicate_causes": causes,
            "evidence": evidence,
            "events": events.items,
        })
        report(result, verdict_table=table(verdict))
        return (0 if verdict.ok else 1), result
    except Interrupted as exc:
        events(f"interrupted by {exc}; stopping everything")
        result["interrupted"] = str(exc)
        return 130, result
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if pool is not None:
            pool.stop_all(grace=5.0)
        fake.stop()
        if bouncer is not None:
            bouncer.stop()
        if db is not None:
            db.dispose()
        if restart is not None:
            if restart.running:
                restart.join(timeout=restart.timeout)
            restart.ensure_up()
        with open(opts.out / "result.json", "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2, default=str)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def report(result: dict[str, Any], *, verdict_table: str) -> None:
    restart = result["restart"]
    calls = result["api_calls"]
    print()
    print(f"== chaos test: {result['engine']}, {result['posts']} posts, {result['series']} "
          f"series, {result['queued']} queued, {result['workers']} workers, "
          f"{result['accounts_per_platform']} accounts per platform ==")
    print(f"wall time {result['wall_s']}s{' (TIME CAP)' if result['timed_out'] else ''}; "
          f"{result['kills']} workers SIGKILLed, {result['workers_started']} started, "
          f"{len(result['unexpected_exits'])} exited by themselves")
    if restart:
        survivors = result.get("restart_survivors")
        print(f"database restart: {'ok' if restart['ok'] else 'FAILED'}, outage "
              f"{restart['outage_s']}s {restart['error'] or ''}"
              + (f"; {len(survivors)} workers rode it out" if survivors is not None else "")
              + (f", {len(result['restart_resumed'])} claimed posts after it"
                 if "restart_resumed" in result else ""))
    else:
        print("database restart: none")
    print(f"faults: {result['faults']}; graph throttles sent {result['graph_throttles_sent']}")
    print("platform API calls: " + ", ".join(f"{k} {v}" for k, v in calls.items()))
    print(f"rescued posts {result['rescued_posts']} ({result['rescues']} rescues); journal "
          f"outcomes {result['journal_outcomes']}")
    print(f"worker logs: {result['worker_logs']}")
    print()
    print(verdict_table)
    print()
    for platform, data in result["platforms"].items():
        for kind, items in data["examples"].items():
            for item in items:
                print(f"  e.g. {platform} {kind}: {item[:300]}")
    for platform, counts in result["duplicate_causes"].items():
        for cause, n in counts.items():
            print(f"  {platform}: {n} extra copies: {cause}")
    shown = 0
    for key, posts in result["evidence"].items():
        if not key.endswith(("duplicate", "failed_but_out", "lost", "id_mismatch")) and not (
                key.endswith("unconfirmed") and not key.startswith("facebook")):
            continue
        for pid, lines in list(posts.items())[:2]:
            print(f"  {key} {pid}:")
            print("    " + "\n    ".join(lines))
            shown += 1
    if shown:
        print("  (more in result.json under evidence)")
    print()
    for item in result["invariants"]:
        print(f"  [{'PASS' if item['ok'] else 'FAIL'}] {item['name']}: {item['detail']}")
    for dead in result["unexpected_exits"]:
        print(f"\n  worker {dead['worker_id']} exited with {dead['returncode']} after "
              f"{dead['uptime_s']}s; last lines of {dead['log']}:")
        print("    " + "\n    ".join(dead["log_tail"].splitlines()[-12:]))
    source = result["source"]
    modified = " ".join(m.split()[-1] for m in source.get("modified", []))
    print(f"\nHerald {source.get('commit', '?')} (herald/ sha256 {source['herald_sha256']}"
          f"{', uncommitted changes: ' + modified if modified else ''})")
    if result.get("source_changed_during_run"):
        changed = result["source_changed_during_run"]
        print(f"WARNING: Herald's source changed during the run (now "
              f"{changed.get('commit')}; {', '.join(changed['files'][:8])}): workers "
              "started at different times may have run different code.")
    print(f"{'PASS' if result['ok'] else 'FAIL'}; logs and result.json in {result['out']}")


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        code, _ = run(opts)
    except Exception as exc:
        print(f"chaos: harness error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"logs in {opts.out}", file=sys.stderr)
        raise SystemExit(2) from exc
    raise SystemExit(code)


if __name__ == "__main__":
    main()
