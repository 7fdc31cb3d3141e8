"""API: CLIENTS concurrent clients creating posts, then listing them, against a real
`herald serve` process (or several) for SECONDS each.

    python -m bench.api --engines sqlite,postgresql --clients 32 --seconds 20

Each client is one keep-alive HTTP/1.1 connection sending one request at a time (a closed
loop). Each load starts once every server process has started, after a 1 s warm-up that is
not counted. The default client (`--client raw`) speaks HTTP/1.1 over asyncio streams with a few
lines of code: the load generator shares the machine's cores with the server and the
database, and httpx's async client costs several times the CPU per request (`--client
httpx` measures with it). Besides the rates and latencies, the server's CPU time per
request is reported (all `herald serve` processes, read from /proc), so a figure can be
told apart from the machine it ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.common import fresh_database, percentile, process_tree, seed_company, settings_for
from bench.platform import free_port, worker_env
from herald.runtime import Herald

#: One request of a client: (client, client number, request number) -> HTTP status.
Make = Callable[[Any, int, int], Awaitable[int]]


class RawClient:
    """One keep-alive HTTP/1.1 connection; just enough protocol for Herald's JSON answers."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.head = "".join(f"{k}: {v}\r\n" for k, v in
                            {"Host": f"{self.host}:{self.port}", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None = None) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        extra = (f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                 if body is not None else "")
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode()
                          + (body or b""))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in
                  (line.partition(":") for line in lines if line)}
        if "content-length" not in fields:
            # Herald's JSON answers always carry a length; anything else is a bug here.
            raise RuntimeError(f"no Content-Length in the answer to {method} {path}")
        await self.reader.readexactly(int(fields["content-length"]))
        if fields.get("connection", "").lower() == "close":
            await self.aclose()
        return int(status_line.split(" ", 2)[1])

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class HttpxClient:
    """The same interface over httpx.AsyncClient (the heavier client, for comparison)."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers)

    async def request(self, method: str, path: str, body: bytes | None = None) -> int:
        headers = {"Content-Type": "application/json"} if body is not None else None
        response = await self.client.request(method, path, content=body, headers=headers)
        return response.status_code

    async def aclose(self) -> None:
        await self.client.aclose()


CLIENTS: dict[str, type[RawClient] | type[HttpxClient]] = {
    "raw": RawClient, "httpx": HttpxClient}


def _cpu_seconds(root: int) -> float:
    """User + system CPU of a process and its descendants (Linux /proc), live ones only."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = 0.0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                # The command name may hold spaces; the fields after it do not.
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        cpu += (int(fields[11]) + int(fields[12])) / ticks
    return cpu


async def _load(url: str, token: str, clients: int, seconds: float, make: Make,
                client_kind: str) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    factory = CLIENTS[client_kind]

    async def client(n: int) -> None:
        nonlocal errors
        c = factory(url, {"Authorization": f"Bearer {token}"})
        try:
            i = 0
            while time.monotonic() < deadline:
                started = time.monotonic()
                status = await make(c, n, i)
                latencies.append(time.monotonic() - started)
                if status >= 400:
                    errors += 1
                i += 1
        finally:
            await c.aclose()

    started = time.monotonic()
    await asyncio.gather(*[client(n) for n in range(clients)])
    elapsed = time.monotonic() - started
    return {"requests": len(latencies), "per_second": round(len(latencies) / elapsed),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1), "errors": errors}


def _settle(server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Wait until every server process has started (their CPU use falls quiet).

    The first process to answer /healthz is not the last to start: clients that connect
    then all land on it, keep their connections, and the figure measures one process.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = _cpu_seconds(server.pid)
        time.sleep(0.5)
        if _cpu_seconds(server.pid) - before < 0.05:
            return


def _measured(server: subprocess.Popen[bytes], load: Callable[[float], dict[str, Any]]
              ) -> dict[str, Any]:
    """Run one load after a 1 s warm-up (pool connections, statement caches), adding the
    server's and this client's CPU per request."""
    load(1.0)
    server_before, client_before = _cpu_seconds(server.pid), time.process_time()
    result = load(0)
    server_cpu = _cpu_seconds(server.pid) - server_before
    client_cpu = time.process_time() - client_before
    n = max(result["requests"], 1)
    result["server_cpu_ms"] = round(server_cpu * 1000 / n, 2)
    result["client_cpu_ms"] = round(client_cpu * 1000 / n, 2)
    return result


def run(engine: str, clients: int, seconds: float, server_workers: int = 1,
        client: str = "raw") -> dict[str, Any]:
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
            _settle(server)

            async def create(c: Any, n: int, i: int) -> int:
                body = json.dumps({
                    "account_id": account, "post_type": "text", "caption": f"post {n}-{i}",
                    "run_at": "2099-01-01T09:00:00Z"}).encode()
                status: int = await c.request("POST", "/api/v1/posts", body)
                return status

            async def listing(c: Any, n: int, i: int) -> int:
                status: int = await c.request("GET", "/api/v1/posts?limit=50")
                return status

            created = _measured(server, lambda warm_up: asyncio.run(
                _load(base, token, clients, warm_up or seconds, create, client)))
            listed = _measured(server, lambda warm_up: asyncio.run(
                _load(base, token, clients, warm_up or seconds, listing, client)))
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    return {"engine": engine, "clients": clients, "seconds": seconds,
            "server_workers": server_workers, "client": client, "create": created,
            "list": listed}


def _wait_up(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
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
    parser.add_argument("--client", choices=sorted(CLIENTS), default="raw",
                        help="the load generator's HTTP client")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [run(e, args.clients, args.seconds, args.server_workers, args.client)
            for e in args.engines.split(",")]
    if args.json:
        print(json.dumps(rows))
        return
    for r in rows:
        for kind in ("create", "list"):
            m = r[kind]
            print(f"{r['engine']} {kind}: {m['per_second']} req/s, p50 {m['p50_ms']} ms, "
                  f"p99 {m['p99_ms']} ms, {m['errors']} errors; server CPU "
                  f"{m['server_cpu_ms']} ms/request, client CPU {m['client_cpu_ms']} "
                  f"ms/request ({r['clients']} clients, {r['server_workers']} server "
                  f"process(es), {r['client']} client)")


if __name__ == "__main__":
    main()
