"""Soak: steady traffic with faults for a long time; memory, descriptors and connections
of `herald serve` and each `herald worker` stay flat, and every post goes out once.

A `herald serve` and WORKERS `herald worker` processes run at Herald's default settings
against the platform fake, which misbehaves all along (5xx answers, commits applied but
their answer dropped, stalls, resets). Posts are created through the REST API at RATE a
second, each due a few seconds later, round-robin over Instagram, Facebook and LinkedIn,
and the post list is read now and then. Every SAMPLE seconds the harness reads each
process's resident memory (VmRSS, a server's whole process tree), its open file
descriptors, and the database's connections. At the end traffic stops, the queue drains,
and the platform's own record is compared with Herald's (bench/chaos_check.py): no post
out twice, none lost, none stuck.

The memory slope is a least-squares line through the samples after the warm-up (the
first WARM_UP seconds, default a tenth of the run, at least a minute: imports, pools and
caches filling), in MB per hour.

    python -m bench.soak --engine postgresql --minutes 60
    python -m bench.soak --engine sqlite --minutes 0.5 --rate 2   # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from bench.chaos_check import judge, table, verify
from bench.chaos_db import (
    OPEN_STATUSES,
    SeededPost,
    caption_for,
    queue_counts,
    reader,
    set_server_urls,
    snapshot,
)
from bench.chaos_fake import FakePlatforms, FaultPlan, make_accounts, post_shape
from bench.chaos_procs import free_port, spawn, stop_process, tail
from bench.common import SECRET, fresh_database, process_tree, seed_at
from herald.models import utcnow

#: Milder than the chaos test's: a soak runs at the settings users get (3 attempts,
#: 30 s backoff), and is about what builds up over time, not about every fault at once.
FAULTS = FaultPlan(transient=0.05, drop=0.01, stall=0.01, stall_lost=0.005, reset=0.005,
                   stall_seconds=2.0, throttles=0)
#: Seconds after creation that each post is due.
LEAD = 3.0
#: Longest wait for the queue to drain once traffic stops (retries back off 30-60 s).
DRAIN = 600.0


@dataclass
class Options:
    engine: str = "postgresql"
    minutes: float = 10.0
    rate: float = 1.0
    workers: int = 2
    sample: float = 15.0
    warm_up: float | None = None
    out: Path = field(default_factory=lambda: Path(f"/tmp/herald-soak-{int(time.time())}"))
    faults: FaultPlan = FAULTS
    quiet: bool = False
    #: Settings for serve and the workers beyond the defaults (the smoke test's only).
    env: dict[str, str] = field(default_factory=dict)


def rss_mb(pids: set[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def open_fds(pids: set[int]) -> int:
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids
               if os.path.isdir(f"/proc/{pid}/fd"))


def db_connections(engine: Any) -> int | None:
    """Connections to this run's database, the harness's own reader excluded."""
    name = engine.dialect.name
    sql = {"postgresql": "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                         "current_database() AND pid <> pg_backend_pid()",
           "mysql": "SELECT count(*) FROM information_schema.processlist WHERE db = "
                    "DATABASE() AND id <> CONNECTION_ID()"}.get(name)
    if sql is None:
        return None  # SQLite: no server
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    except Exception:
        return None


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """The least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    if var == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in points) / var * 3600


def run(opts: Options) -> tuple[bool, dict[str, Any]]:
    opts.out.mkdir(parents=True, exist_ok=True)
    say = (lambda msg: None) if opts.quiet else (lambda msg: print(msg, flush=True))
    fake = FakePlatforms(log=opts.out / "fake.log", seed=7)
    procs: dict[str, Any] = {}
    result: dict[str, Any] = {"engine": opts.engine, "minutes": opts.minutes,
                              "rate_per_s": opts.rate, "workers": opts.workers,
                              "faults": opts.faults.as_dict(), "out": str(opts.out)}
    db = None
    try:
        fake.start()
        accounts = make_accounts(2)
        image_url = fake.setup(accounts, opts.faults, seed=7)
        url = fresh_database(opts.engine, f"herald_soak_{opts.engine}", str(opts.out))
        _, token, account_ids = seed_at(
            url, [(a.platform, a.external_id, a.token) for a in accounts])
        # Every platform of the chaos table: Bluesky's and Mastodon's accounts name the
        # fake's loopback server, the others' clients are pointed at it by settings.
        set_server_urls(url, fake.server_urls())
        fake.inject(opts.faults)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        env.update({"HERALD_DATABASE_URL": url, "HERALD_SECRET_KEY": SECRET,
                    **fake.settings(),
                    "HERALD_ALLOW_PRIVATE_MEDIA_URLS": "1",
                    "HERALD_ALLOW_PRIVATE_SERVER_URLS": "1",
                    "HERALD_MEDIA_DIR": str(opts.out / "media"),
                    "HERALD_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
        env.update(opts.env)
        port = free_port()
        procs["serve"] = spawn([sys.executable, "-m", "herald", "serve", "--port", str(port)],
                               log=opts.out / "serve.log", env=env, cwd=opts.out)
        for i in range(opts.workers):
            procs[f"worker-{i + 1}"] = spawn(
                [sys.executable, "-m", "herald", "worker", "--id", f"soak-{i + 1}"],
                log=opts.out / f"worker-{i + 1}.log", env=env, cwd=opts.out)
        base = f"http://127.0.0.1:{port}"
        client = httpx.Client(base_url=base, timeout=30,
                              headers={"Authorization": f"Bearer {token}"})
        _wait_up(client, procs["serve"], opts.out / "serve.log")
        db = reader(url)
        say(f"soak on {opts.engine}: serve on {base}, {opts.workers} workers, "
            f"{opts.rate:g} posts/s for {opts.minutes:g} min; logs in {opts.out}")
        seeded, samples, errors = _traffic(opts, client, db, procs, accounts, account_ids,
                                           image_url, say)
        result["api_errors"] = errors
        result["posts"] = len(seeded)
        say(f"traffic over: {len(seeded)} posts; draining the queue")
        # Drain: nothing new; wait for what is pending or processing to settle.
        deadline = time.monotonic() + DRAIN
        while True:
            counts = queue_counts(db) or {}
            if not any(counts.get(s, 0) for s in OPEN_STATUSES):
                break
            if time.monotonic() > deadline:
                result["drain_timed_out"] = True
                break
            time.sleep(2)
        samples.append(_sample(opts, procs, db, time.monotonic() - samples[0]["t0"]
                               if samples else 0.0))
        result.update(_memory_report(opts, samples))
        exits = {name: p.poll() for name, p in procs.items() if p.poll() is not None}
        result["unexpected_exits"] = exits
        found = verify(seeded, snapshot(db), fake.published(), fake.commits())
        verdict = judge(found, unexpected_exits=len(exits), restart_planned=False,
                        restart_ok=True, timed_out=bool(result.get("drain_timed_out")))
        result["verdict"] = table(verdict)
        result["ok"] = verdict.ok and not errors
        client.close()
    finally:
        for name, proc in procs.items():
            code = stop_process(proc, grace=30)
            if code not in (0, None, -15):
                result.setdefault("stop_codes", {})[name] = code
        fake.stop()
        if db is not None:
            db.dispose()
    (opts.out / "soak.json").write_text(json.dumps(result, indent=2, default=str))
    return bool(result.get("ok")), result


def _wait_up(client: httpx.Client, proc: Any, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"herald serve exited:\n{tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if client.get("/healthz", timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("herald serve did not start")
        time.sleep(0.2)


def _traffic(opts: Options, client: httpx.Client, db: Any, procs: dict[str, Any],
             accounts: list[Any], account_ids: list[str], image_url: str, say: Any
             ) -> tuple[list[SeededPost], list[dict[str, Any]], int]:
    seeded: list[SeededPost] = []
    samples: list[dict[str, Any]] = []
    errors = 0
    tag = time.strftime("%H%M%S")
    pairs = itertools.cycle(list(zip(accounts, account_ids, strict=True)))
    start = time.monotonic()
    end = start + opts.minutes * 60
    next_sample = start
    for i in itertools.count():
        now = time.monotonic()
        if now >= end:
            break
        if now >= next_sample:
            samples.append(_sample(opts, procs, db, now - start))
            samples[-1]["t0"] = start
            next_sample = now + opts.sample
            s = samples[-1]
            say(f"{now - start:7.0f}s posts {len(seeded)} serve {s['serve_rss_mb']:.1f} MB "
                + " ".join(f"{k} {v:.1f} MB" for k, v in s["workers_rss_mb"].items())
                + f" fds {s['fds']} db connections {s['db_connections']}")
        account, account_id = next(pairs)
        caption = caption_for(tag, i, account.platform, account)
        post_type, media = post_shape(account.platform, image_url)
        body: dict[str, Any] = {
            "account_id": account_id, "caption": caption, "post_type": post_type,
            "run_at": (utcnow() + timedelta(seconds=LEAD)).isoformat()}
        if media:
            body["media"] = media
        try:
            resp = client.post("/api/v1/posts", json=body)
            if resp.status_code == 201 or resp.status_code == 200:
                for item in resp.json()["items"]:
                    seeded.append(SeededPost(item["id"], account.platform,
                                             account.external_id, caption))
            else:
                errors += 1
                say(f"create: HTTP {resp.status_code} {resp.text[:200]}")
            if i % 20 == 0:
                client.get("/api/v1/posts", params={"limit": 50}).raise_for_status()
        except httpx.HTTPError as exc:
            errors += 1
            say(f"API call failed: {exc}")
        time.sleep(max(0.0, start + (i + 1) / opts.rate - time.monotonic()))
    return seeded, samples, errors


def _sample(opts: Options, procs: dict[str, Any], db: Any, at: float) -> dict[str, Any]:
    serve = process_tree(procs["serve"].pid)
    workers = {name: {p.pid} for name, p in procs.items() if name != "serve"}
    return {
        "t": round(at, 1),
        "serve_rss_mb": round(rss_mb(serve), 2),
        "workers_rss_mb": {name: round(rss_mb(pids), 2) for name, pids in workers.items()},
        "fds": {"serve": open_fds(serve),
                **{name: open_fds(pids) for name, pids in workers.items()}},
        "db_connections": db_connections(db),
    }


def _memory_report(opts: Options, samples: list[dict[str, Any]]) -> dict[str, Any]:
    warm = opts.warm_up if opts.warm_up is not None else max(60.0, opts.minutes * 6)
    steady = [s for s in samples if s["t"] >= warm] or samples[len(samples) // 2:]

    def series(key: Any) -> list[tuple[float, float]]:
        return [(s["t"], float(key(s))) for s in steady]

    names = list(samples[0]["workers_rss_mb"]) if samples else []
    report: dict[str, Any] = {
        "samples": samples, "warm_up_s": warm,
        "serve_rss_mb": _span(series(lambda s: s["serve_rss_mb"])),
        "serve_slope_mb_per_h": slope_per_hour(series(lambda s: s["serve_rss_mb"])),
        "workers": {n: {"rss_mb": _span(series(lambda s, n=n: s["workers_rss_mb"][n])),
                        "slope_mb_per_h": slope_per_hour(
                            series(lambda s, n=n: s["workers_rss_mb"][n]))}
                    for n in names},
        "fds": {n: _span(series(lambda s, n=n: s["fds"][n]))
                for n in (["serve", *names] if samples else [])},
    }
    conns = [s["db_connections"] for s in steady if s["db_connections"] is not None]
    report["db_connections"] = {"first": conns[0], "last": conns[-1],
                                "max": max(conns)} if conns else None
    return report


def _span(points: list[tuple[float, float]]) -> dict[str, float] | None:
    if not points:
        return None
    values = [v for _, v in points]
    return {"first": values[0], "last": values[-1], "min": min(values), "max": max(values)}


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="postgresql",
                        choices=["postgresql", "mariadb", "sqlite"])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long traffic runs")
    parser.add_argument("--rate", type=float, default=1.0, help="posts created a second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--warm-up", type=float, default=None,
                        help="seconds left out of the slopes (default: a tenth, >= 60)")
    parser.add_argument("--out", type=Path, default=None, help="folder for logs and JSON")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    a = parser.parse_args(argv)
    opts = Options(engine=a.engine, minutes=a.minutes, rate=a.rate, workers=a.workers,
                   sample=a.sample, warm_up=a.warm_up, quiet=a.json)
    if a.out is not None:
        opts.out = a.out
    return opts


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    ok, result = run(opts)
    if "--json" in (argv or sys.argv[1:]):
        print(json.dumps({k: v for k, v in result.items() if k != "samples"}, default=str))
    else:
        print(render(result))
    sys.exit(0 if ok else 1)


def render(result: dict[str, Any]) -> str:
    def mb(span: dict[str, float] | None) -> str:
        return "-" if span is None else f"{span['first']:.1f} → {span['last']:.1f} MB"

    def slope(value: float | None) -> str:
        return "-" if value is None else f"{value:+.1f} MB/h"

    lines = [f"soak on {result['engine']}: {result.get('posts', 0)} posts in "
             f"{result['minutes']:g} min, {result['workers']} workers "
             f"({result.get('api_errors', 0)} API errors)",
             f"serve: {mb(result.get('serve_rss_mb'))}, slope "
             f"{slope(result.get('serve_slope_mb_per_h'))}"]
    for name, w in (result.get("workers") or {}).items():
        lines.append(f"{name}: {mb(w['rss_mb'])}, slope {slope(w['slope_mb_per_h'])}")
    for name, span in (result.get("fds") or {}).items():
        if span:
            lines.append(f"open fds {name}: {span['first']:.0f} → {span['last']:.0f} "
                         f"(max {span['max']:.0f})")
    lines.append(f"database connections: {result.get('db_connections')}")
    lines.append(result.get("verdict", ""))
    lines.append("PASS" if result.get("ok") else "FAIL")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
