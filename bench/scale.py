"""Scale: a year of future posts in the tables, and what each everyday operation costs.

    python -m bench.scale --sizes 10000,100000 --engines postgresql     # quick
    python -m bench.scale --sizes 10000,100000,1000000 --engines postgresql --reuse

Each size gets its own database (PostgreSQL `herald_scale_<size>`, e.g. herald_scale_1m;
MariaDB the same; SQLite a file), filled once with POSTS future posts over 365 days across
ACCOUNTS accounts in 10 companies, rows as the API writes them (bench/scale_fill.py).
`--reuse` keeps a database already filled to that size (migrated to the newest schema).
At each size, in one run: the idle worker's statements per second and their cost; the
queue's claim, horizon and rescue statements (time, and EXPLAIN (ANALYZE, BUFFERS) on
PostgreSQL); 1,000 posts due at once drained by a no-op publisher; the API's list
(first page, by account, by status and week, 50 pages deep by cursor) and creates under
8 clients against a real `herald serve`; the web pages' server time; `herald status`'s
query; table and index sizes. Timings are medians of REPEAT runs (with the spread).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, event, text

from bench import scale_fill, scale_http
from bench.common import MARIADB_SERVER, PG_SERVER, settings_for
from bench.engine import NoopPublisher
from herald import migrate
from herald.app import build_worker
from herald.db import Database
from herald.models import utcnow
from herald.platforms.base import PublisherRegistry
from herald.runtime import Herald

COMPANIES = 10
REPEAT = 5


def size_name(posts: int) -> str:
    for unit, n in (("m", 1_000_000), ("k", 1000)):
        if posts >= n and posts % n == 0:
            return f"{posts // n}{unit}"
    return str(posts)


def database_url(engine: str, name: str, tmpdir: str) -> str:
    if engine == "sqlite":
        return f"sqlite:///{os.path.join(tmpdir, name + '.db')}"
    return f"{PG_SERVER if engine == 'postgresql' else MARIADB_SERVER}/{name}"


def _admin(engine: str) -> Engine:
    if engine == "postgresql":
        return create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://")
                             + "/postgres", isolation_level="AUTOCOMMIT")
    return create_engine(MARIADB_SERVER.replace("mysql://", "mysql+pymysql://") + "/")


def prepare(engine: str, posts: int, accounts: int, tmpdir: str, reuse: bool
            ) -> tuple[str, float | None]:
    """The size's database, filled (or kept, with --reuse); (URL, seconds the fill took)."""
    name = f"herald_scale_{size_name(posts)}" + ("" if accounts == 100 else f"_{accounts}a")
    url = database_url(engine, name, tmpdir)
    if reuse and _exists(engine, name, url):
        herald = Herald.build(settings_for(url))
        try:
            migrate.upgrade(herald.db.engine)
            if scale_fill.count_posts(herald) >= posts:
                return url, None
        finally:
            herald.db.dispose()
    _create(engine, name, url)
    herald = Herald.build(settings_for(url))
    try:
        migrate.upgrade(herald.db.engine)
        started = time.monotonic()
        tenants = scale_fill.add_companies(herald, COMPANIES, accounts)
        scale_fill.fill(herald, tenants, posts, progress=True)
        if engine == "postgresql":
            with herald.db.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        return url, round(time.monotonic() - started, 1)
    finally:
        herald.db.dispose()


def _exists(engine: str, name: str, url: str) -> bool:
    if engine == "sqlite":
        return os.path.exists(url.removeprefix("sqlite:///"))
    admin = _admin(engine)
    try:
        with admin.connect() as conn:
            query = ("SELECT 1 FROM pg_database WHERE datname = :n" if engine == "postgresql"
                     else "SELECT 1 FROM information_schema.schemata WHERE schema_name = :n")
            return conn.execute(text(query), {"n": name}).first() is not None
    finally:
        admin.dispose()


def _create(engine: str, name: str, url: str) -> None:
    if engine == "sqlite":
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return
    admin = _admin(engine)
    with admin.connect() as conn:
        if engine == "postgresql":
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    admin.dispose()


def timed(fn: Callable[[], Any], repeat: int = REPEAT) -> dict[str, Any]:
    """Median milliseconds of `repeat` calls after one warm-up, with the spread."""
    fn()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return {"ms": round(statistics.median(runs), 2), "min": round(min(runs), 2),
            "max": round(max(runs), 2)}


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any, float]]]:
    """Every statement sent through `engine` meanwhile: (SQL, parameters, seconds)."""
    sent: list[tuple[str, Any, float]] = []

    def before(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        conn.info["scale_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        verb = statement.split(None, 1)[0].upper()
        if verb not in ("BEGIN", "COMMIT", "ROLLBACK"):
            sent.append((statement, params,
                         time.perf_counter() - conn.info.pop("scale_started", 0.0)))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def explain(engine: Engine, statement: str, params: Any) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, in a transaction rolled back."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        plan = [row[0] for row in cur.fetchall()]
        raw.rollback()
    finally:
        raw.close()
    found = [line for line in plan if "Execution Time" in line]
    return {"execution_ms": float(found[0].split(":")[1].split()[0]) if found else None,
            "plan": plan}


def queue_statements(herald: Herald) -> dict[str, Any]:
    """Claim (nothing due), horizon and rescue sweep: time, and their plans."""
    q = herald.queue()
    calls: dict[str, Callable[[], Any]] = {
        "claim": lambda: q.claim(worker_id="scale", limit=200),
        "horizon": q.horizon,
        "rescue": q.rescue_expired,
        "status": lambda: q.stats(now=utcnow(), since=utcnow() - timedelta(days=1)),
    }
    out: dict[str, Any] = {}
    for name, call in calls.items():
        out[name] = timed(call)
        if herald.db.engine.dialect.name != "postgresql":
            continue
        with captured(herald.db.engine) as sent:
            call()
        if name == "status":  # several counts: the database's time for all of them
            out[name]["db_ms"] = round(sum(explain(herald.db.engine, s, p)["execution_ms"]
                                           or 0.0 for s, p, _ in sent), 2)
            continue
        # The statement that reads the posts or the queue (not the health holds, the clock).
        main = max(sent, key=lambda s: ("post_schedule" in s[0], s[2]))
        out[name]["explain"] = explain(herald.db.engine, main[0], main[1])
    return out


def idle_worker(herald: Herald, seconds: float) -> dict[str, Any]:
    """What a worker with nothing due sends in `seconds`, and what it costs."""
    async def main() -> list[tuple[str, Any, float]]:
        worker = build_worker(herald, worker_id="scale-idle")
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(2)  # start-up: connect, LISTEN, first sweep
        with captured(herald.db.engine) as sent:
            await asyncio.sleep(seconds)
            worker.stop()
            await task
        return sent

    sent = asyncio.run(main())
    costs = [s[2] * 1000 for s in sent]
    return {"seconds": seconds, "statements": len(sent),
            "per_s": round(len(sent) / seconds, 2),
            "mean_ms": round(statistics.mean(costs), 2) if costs else None,
            "max_ms": round(max(costs), 2) if costs else None}


def drain(url: str, tenants: list[scale_fill.Tenant], posts: int = 1000) -> dict[str, Any]:
    """`posts` due at once among the year's, published by a no-op publisher."""
    registry = PublisherRegistry({p: NoopPublisher(p) for p in scale_fill.PLATFORMS})
    herald = Herald.build(settings_for(url), registry=registry)
    try:
        scale_fill.fill(herald, tenants, posts, due_at=utcnow() - timedelta(seconds=1))
        worker = build_worker(herald, worker_id="scale-drain", concurrency=200,
                              batch_size=200, listen=False)
        started = time.monotonic()
        totals = asyncio.run(worker.run(until_idle=True))
        return {"posts": posts, "published": totals.published,
                "seconds": round(time.monotonic() - started, 2)}
    finally:
        herald.db.dispose()


def sizes(url: str) -> dict[str, Any]:
    """Table and index sizes of the big tables, in MB."""
    db = Database.from_settings(settings_for(url))
    tables = ("posts", "post_schedule", "audit_log", "publish_attempts")
    out: dict[str, Any] = {}
    try:
        with db.engine.connect() as conn:
            for table in tables:
                row: Any
                if db.engine.dialect.name == "postgresql":
                    row = conn.execute(text(
                        "SELECT pg_table_size(:t), pg_indexes_size(:t)"), {"t": table}).one()
                elif db.engine.dialect.name == "mysql":
                    row = conn.execute(text(
                        "SELECT data_length, index_length FROM information_schema.tables "
                        "WHERE table_schema = DATABASE() AND table_name = :t"),
                        {"t": table}).one()
                else:
                    path = url.removeprefix("sqlite:///")
                    row = (os.path.getsize(path), 0) if table == "posts" else (0, 0)
                out[table] = {"table_mb": round(row[0] / 2**20, 1),
                              "indexes_mb": round(row[1] / 2**20, 1)}
    finally:
        db.dispose()
    return out


def measure(engine: str, url: str, posts: int, idle_seconds: float) -> dict[str, Any]:
    herald = Herald.build(settings_for(url))
    try:
        tenants = scale_fill.tenants_of(herald)
        result: dict[str, Any] = {"engine": engine, "posts": posts,
                                  "accounts": sum(len(t.account_ids) for t in tenants)}
        result["idle"] = idle_worker(herald, idle_seconds)
        result["queue"] = queue_statements(herald)
    finally:
        herald.db.dispose()
    result["drain"] = drain(url, tenants)
    with tempfile.TemporaryDirectory() as tmpdir:
        result["http"] = scale_http.measure(url, tenants[0], tmpdir)
    if engine == "postgresql":
        result["db"] = scale_http.database_ms(url, tenants[0])
    result["sizes"] = sizes(url)
    result["kept_rows"] = kept_rows(url)
    return result


def kept_rows(url: str) -> int:
    """Rows of the kept counts (post_counts and queue_counts) after the run: what a count
    sums, bounded by keys and the changes since the last fold, not by the posts."""
    db = Database.from_settings(settings_for(url))
    try:
        with db.engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT (SELECT count(*) FROM post_counts) "
                "+ (SELECT count(*) FROM queue_counts)")).scalar_one())
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="postgresql")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every size this many times, side by side, in turn")
    parser.add_argument("--reuse", action="store_true",
                        help="keep a database already filled to the size")
    parser.add_argument("--dir", default=tempfile.gettempdir(),
                        help="where SQLite files go (kept for --reuse)")
    parser.add_argument("--out", default="", help="write the results here as JSON")
    args = parser.parse_args()
    targets = []
    for engine in args.engines.split(","):
        for posts in [int(s) for s in args.sizes.split(",")]:
            url, fill_s = prepare(engine, posts, args.accounts, args.dir, args.reuse)
            print(f"{engine} {size_name(posts)}: filled in {fill_s}s" if fill_s is not None
                  else f"{engine} {size_name(posts)}: reused", flush=True)
            targets.append((engine, posts, url, fill_s))
    runs: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(targets))}
    # Round by round, each size in turn: a ratio compares runs made under the same load.
    for _ in range(args.rounds):
        for i, (engine, posts, url, fill_s) in enumerate(targets):
            row = measure(engine, url, posts, args.idle_seconds)
            row["fill_s"] = fill_s
            runs[i].append(row)
            print(json.dumps(summary(row)), flush=True)
            if args.out:  # as it goes: a long run that fails late keeps what it measured
                with open(args.out, "w") as f:
                    json.dump({"runs": list(runs.values())}, f)
    figures = [combined([summary(r) for r in rows]) for rows in runs.values()]
    print(json.dumps(figures), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"figures": figures, "runs": list(runs.values()),
                       "load": os.getloadavg()}, f, indent=1)


def combined(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the rounds, with every round's figure."""
    out: dict[str, Any] = {}
    for key, value in rows[0].items():
        values = [r[key] for r in rows]
        if (key != "posts" and isinstance(value, (int, float)) and not isinstance(value, bool)
                and None not in values):
            out[key] = round(statistics.median(values), 2)
            out[key + "_runs"] = values
        else:
            out[key] = value
    return out


def summary(row: dict[str, Any]) -> dict[str, Any]:
    """The figures of one size, flat (what the doc's table shows)."""
    q, h = row["queue"], row["http"]
    out = {"engine": row["engine"], "posts": row["posts"],
           "idle_per_s": row["idle"]["per_s"], "idle_mean_ms": row["idle"]["mean_ms"],
           "drain_s": row["drain"]["seconds"]}
    for name in ("claim", "horizon", "rescue", "status"):
        out[f"{name}_ms"] = q[name]["ms"]
        if "explain" in q[name]:
            out[f"{name}_exec_ms"] = q[name]["explain"]["execution_ms"]
        if "db_ms" in q[name]:
            out[f"{name}_db_ms"] = q[name]["db_ms"]
    for name, figure in h.items():
        out[name] = figure["ms"] if isinstance(figure, dict) and "ms" in figure else figure
    for name, figure in row.get("db", {}).items():
        out[f"{name}_db_ms"] = figure["db_ms"]
    if "kept_rows" in row:
        out["kept_rows"] = row["kept_rows"]
    for table, size in row["sizes"].items():
        out[f"{table}_mb"] = round(size["table_mb"] + size["indexes_mb"], 1)
        out[f"{table}_index_mb"] = size["indexes_mb"]
    return out


if __name__ == "__main__":
    main()
