"""Run every benchmark and write docs/benchmarks.md with the figures and the commands.

    python -m bench.run_all            # the full suite (about 15 minutes on 2 cores)
    python -m bench.run_all --quick    # small sizes: checks the benchmarks still work
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import api, burst, engine, idle, ontime, seed_baseline

FULL: dict[str, dict[str, Any]] = {
    "engine": {"posts": 20000, "engines": ["postgresql", "mariadb", "sqlite"],
               "workers": [1, 2, 4]},
    "burst": {"posts": 5000, "workers": [1, 4], "latency": 1.2, "concurrency": 400,
              "accounts": 50},
    "ontime": {"rate": 50, "seconds": 60},
    "idle": {"seconds": 60, "engines": ["postgresql", "mariadb", "sqlite"]},
    "api": {"clients": 32, "seconds": 20, "engines": ["sqlite", "postgresql"]},
    "seed": {"posts": 15, "tick": 60.0, "latency": 1.2},
}
QUICK: dict[str, dict[str, Any]] = {
    "engine": {"posts": 300, "engines": ["sqlite"], "workers": [1]},
    "burst": {"posts": 30, "workers": [1], "latency": 0.05, "concurrency": 50,
              "accounts": 2},
    "ontime": {"rate": 10, "seconds": 2},
    "idle": {"seconds": 2, "engines": ["sqlite"]},
    "api": {"clients": 2, "seconds": 1, "engines": ["sqlite"]},
    "seed": {"posts": 6, "tick": 1.0, "latency": 0.05},
}


def collect(sizes: dict[str, dict[str, Any]], main_engine: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    e = sizes["engine"]
    out["engine"] = [engine.run(name, e["posts"], 1, _tmp()) for name in e["engines"]]
    if "postgresql" in e["engines"]:
        out["engine"] += [engine.run("postgresql", e["posts"], n, _tmp())
                          for n in e["workers"] if n != 1]
    b = sizes["burst"]
    out["burst"] = [burst.run(main_engine, b["posts"], n, b["latency"], b["concurrency"],
                              b["accounts"], 8.0, 900.0) for n in b["workers"]]
    o = sizes["ontime"]
    out["ontime"] = ontime.run(main_engine, o["rate"], o["seconds"], 1.0)
    i = sizes["idle"]
    out["idle"] = [idle.run(name, i["seconds"]) for name in i["engines"]]
    a = sizes["api"]
    out["api"] = [api.run(name, a["clients"], a["seconds"]) for name in a["engines"]]
    s = sizes["seed"]
    out["seed"] = seed_baseline.run(main_engine, s["posts"], s["tick"], s["latency"])
    return out


def _tmp() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="herald-bench-")


def render(results: dict[str, Any], sizes: dict[str, dict[str, Any]], seconds: float) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines = [
        "# Benchmarks", "",
        f"Measured by `python -m bench.run_all` (`make bench`) on commit `{commit}`, "
        f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}; the "
        f"whole run took {seconds / 60:.1f} minutes. Raw figures: `bench/results/latest.json`.",
        "Each section names the command that reproduces it alone.", "",
        "## Engine: claims + completions per second",
        f"`python -m bench.engine --posts {sizes['engine']['posts']} --engines ... "
        "--workers N` — all posts due at once, a no-op publisher, real `Worker`s in "
        "separate processes.", "",
        "| engine | workers | posts | seconds | per second |", "|---|---|---|---|---|",
    ]
    lines += [f"| {r['engine']} | {r['workers']} | {r['published']} | {r['seconds']} | "
              f"{r['per_second']} |" for r in results["engine"]]
    b = sizes["burst"]
    lines += ["", "## Burst: posts due in the same second, real clients, real HTTP",
              f"`python -m bench.burst --posts {b['posts']} --latency {b['latency']} "
              f"--concurrency {b['concurrency']} --accounts {b['accounts']} --workers 1,4` — "
              "Instagram, Facebook and LinkedIn posts through `herald worker` processes to "
              "the platform fake, every call answered after the latency.", "",
              "| workers | posts | published | drained in (s) | lateness p50 / p99 / max (s) |",
              "|---|---|---|---|---|"]
    lines += [f"| {r['workers']} | {r['posts']} | {r['published']} | {r['drain_s']} | "
              f"{r['lateness_p50_s']} / {r['lateness_p99_s']} / {r['lateness_max_s']} |"
              for r in results["burst"]]
    o = results["ontime"]
    lines += ["", "## On time: posts due continuously",
              f"`python -m bench.ontime --rate {o['rate_per_s']} --seconds {o['seconds']}` — "
              "each post created one second before it is due; lateness is the publish call "
              "minus run_at.", "",
              f"{o['published']}/{o['posts']} posts: lateness p50 {o['lateness_p50_ms']} ms, "
              f"p99 {o['lateness_p99_ms']} ms, max {o['lateness_max_ms']} ms "
              f"({o['early']} early)."]
    lines += ["", "## Idle worker", f"`python -m bench.idle --seconds "
              f"{sizes['idle']['seconds']}` — a worker with nothing due.", "",
              "| engine | queries | per second | CPU s | RSS MB |", "|---|---|---|---|---|"]
    lines += [f"| {r['engine']} | {r['statements']} | {r['statements_per_s']} | {r['cpu_s']} "
              f"| {r['rss_mb']} |" for r in results["idle"]]
    lines += ["", "## API", f"`python -m bench.api --clients {sizes['api']['clients']} "
              f"--seconds {sizes['api']['seconds']}` — one `herald serve` process.", "",
              "| engine | operation | req/s | p50 ms | p99 ms | errors |",
              "|---|---|---|---|---|---|"]
    for r in results["api"]:
        for kind in ("create", "list"):
            m = r[kind]
            lines.append(f"| {r['engine']} | {kind} | {m['per_second']} | {m['p50_ms']} | "
                         f"{m['p99_ms']} | {m['errors']} |")
    s = results["seed"]
    lines += ["", "## The seed's design as a baseline",
              f"`python -m bench.seed_baseline --posts {s['posts']} --tick {s['tick_s']} "
              f"--latency {s['latency_s']}` — a cron tick every {s['tick_s']:g} s claiming 5 "
              "posts and publishing them one at a time, against Herald's worker, same posts, "
              "same fake.", "",
              f"{s['posts']} posts: seed loop {s['seed_s']} s, Herald {s['herald_s']} s — "
              f"**{s['ratio']}x**.", ""]
    return "\n".join(lines)


def _cores() -> int:
    import os

    return os.cpu_count() or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--engine", default="postgresql",
                        help="engine for burst, on-time and seed benchmarks")
    parser.add_argument("--out", default="docs/benchmarks.md")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    started = time.monotonic()
    results = collect(sizes, "sqlite" if args.quick else args.engine)
    text = render(results, sizes, time.monotonic() - started)
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/latest.json").write_text(json.dumps(results, indent=2, default=str))
    if not args.quick:
        Path(args.out).write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
