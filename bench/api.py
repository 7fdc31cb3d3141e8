"""API: CLIENTS concurrent clients creating posts, then listing them, against a real
`herald serve` process (one uvicorn process) for SECONDS each.

    python -m bench.api --engines sqlite,postgresql --clients 32 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx

from bench.common import fresh_database, percentile, seed_company, settings_for
from bench.platform import free_port, worker_env
from herald.state import Herald


async def _load(url: str, token: str, clients: int, seconds: float, make: Any
                ) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def client(n: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as c:
            i = 0
            while time.monotonic() < deadline:
                started = time.monotonic()
                response = await make(c, n, i)
                latencies.append(time.monotonic() - started)
                if response.status_code >= 400:
                    errors += 1
                i += 1

    started = time.monotonic()
    await asyncio.gather(*[client(n) for n in range(clients)])
    elapsed = time.monotonic() - started
    return {"requests": len(latencies), "per_second": round(len(latencies) / elapsed),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1), "errors": errors}


def run(engine: str, clients: int, seconds: float, server_workers: int = 1
        ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmpdir:
        url = fresh_database(engine, f"herald_bench_api_{engine}", tmpdir)
        herald = Herald.from_settings(settings_for(url))
        _, token, [account] = seed_company(herald.db, herald.cipher,
                                           [("facebook", "page-1", "t1")])
        herald.db.dispose()
        port = free_port()
        env = worker_env(url, None, media_dir=f"{tmpdir}/media")
        server = subprocess.Popen(
            [sys.executable, "-m", "herald", "serve", "--port", str(port),
             "--workers", str(server_workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_up(base)

            async def create(c: httpx.AsyncClient, n: int, i: int) -> httpx.Response:
                return await c.post("/api/v1/posts", json={
                    "account_id": account, "post_type": "text", "caption": f"post {n}-{i}",
                    "run_at": "2099-01-01T09:00:00Z"})

            async def listing(c: httpx.AsyncClient, n: int, i: int) -> httpx.Response:
                return await c.get("/api/v1/posts", params={"limit": 50})

            created = asyncio.run(_load(base, token, clients, seconds, create))
            listed = asyncio.run(_load(base, token, clients, seconds, listing))
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    return {"engine": engine, "clients": clients, "seconds": seconds,
            "server_workers": server_workers, "create": created, "list": listed}


def _wait_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(base + "/healthz", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError("herald serve did not start") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--server-workers", type=int, default=1,
                        help="processes of `herald serve --workers`")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [run(e, args.clients, args.seconds, args.server_workers)
            for e in args.engines.split(",")]
    if args.json:
        print(json.dumps(rows))
        return
    for r in rows:
        for kind in ("create", "list"):
            m = r[kind]
            print(f"{r['engine']} {kind}: {m['per_second']} req/s, p50 {m['p50_ms']} ms, "
                  f"p99 {m['p99_ms']} ms, {m['errors']} errors ({r['clients']} clients)")


if __name__ == "__main__":
    main()
