"""The Procrastinate app of bench/peers.py, and a worker process for it.

    PEERS_PG_DSN=postgresql://... python -m bench.peers_procrastinate --concurrency 300

Environment: PEERS_PG_DSN (the database) and those of peers_tasks. With --until-idle the
worker stops once the queue is empty (Procrastinate's wait=False) and prints the seconds it
ran, from --start-at (a Unix time: every process connected before the clock starts, as
bench.engine does for Herald).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import httpx
from procrastinate import App, PsycopgConnector

from bench.peers_tasks import client_limits, publish_async

app = App(connector=PsycopgConnector(conninfo=os.environ.get("PEERS_PG_DSN", "")))
_clients: dict[str, httpx.AsyncClient] = {}


def app_for(dsn: str) -> App:
    """An app on another database, for deferring from bench/peers.py's own process."""
    return App(connector=PsycopgConnector(conninfo=dsn))


def _client() -> httpx.AsyncClient:
    if "client" not in _clients:
        _clients["client"] = httpx.AsyncClient(
            **client_limits(int(os.environ.get("PEERS_CONCURRENCY", "100"))))
    return _clients["client"]


@app.task(name="peers.noop")
async def noop(n: int) -> None:
    return None


@app.task(name="peers.publish")
async def publish(page: str, token: str, caption: str) -> None:
    await publish_async(_client(), page, token, caption)


async def _run(concurrency: int, until_idle: bool, start_at: float) -> float:
    os.environ["PEERS_CONCURRENCY"] = str(concurrency)
    async with app.open_async():
        await app.check_connection_async()
        await asyncio.sleep(max(0.0, start_at - time.time()))
        started = time.monotonic()
        await app.run_worker_async(concurrency=concurrency, wait=not until_idle,
                                   install_signal_handlers=not until_idle)
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--until-idle", action="store_true")
    parser.add_argument("--start-at", type=float, default=0.0)
    args = parser.parse_args()
    elapsed = asyncio.run(_run(args.concurrency, args.until_idle, args.start_at))
    print(f"elapsed {elapsed:.4f}", flush=True)


if __name__ == "__main__":
    main()
