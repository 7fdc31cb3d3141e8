"""The platform fake as a separate process, and `herald worker` processes, for benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from bench.common import SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """The most resident memory a live process has had (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def database_backends(name: str) -> list[int]:
    """PostgreSQL's (or MariaDB's: none, one process) server processes serving database
    `name`, by their process titles ("postgres: user name host state")."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {name} " in title:
            found.append(int(entry))
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (/proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, already counted in user
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


class Fake:
    """A running fake: its base URL, an admin client and its process id."""

    def __init__(self, url: str, pid: int = 0) -> None:
        self.url = url
        self.pid = pid
        self.admin = httpx.Client(base_url=url + "/_fake", timeout=60)

    def add_account(self, platform: str, account_id: str, token: str) -> None:
        self.admin.post("/accounts", json={"platform": platform, "id": account_id,
                                           "token": token}).raise_for_status()

    def configure(self, **fields: Any) -> None:
        self.admin.put("/config", json=fields).raise_for_status()

    def put_file(self, name: str, content: bytes, content_type: str) -> str:
        self.admin.put(f"/files/{name}", content=content,
                       headers={"content-type": content_type}).raise_for_status()
        return f"{self.url}/_fake/files/{name}"

    def published(self) -> list[dict[str, Any]]:
        response = self.admin.get("/published")
        response.raise_for_status()
        data = response.json()
        return list(data["data"])


@contextmanager
def running_fake(*, latency: float = 0.0, fetch_media: bool = False) -> Iterator[Fake]:
    port = free_port()
    args = [sys.executable, "-m", "herald.platforms.fake", "--port", str(port),
            "--latency", str(latency), "--log-level", "warning"]
    if not fetch_media:
        args.append("--no-fetch-media")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/_fake/config", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the platform fake did not start") from None
                time.sleep(0.1)
        fake = Fake(url, proc.pid)
        # Latency applies to platform calls; the admin API answers at once.
        yield fake
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def worker_env(database_url: str, fake: Fake | None, **settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(HERALD_DATABASE_URL=database_url, HERALD_SECRET_KEY=SECRET,
               HERALD_LOG_LEVEL="WARNING", HERALD_ALLOW_PRIVATE_MEDIA_URLS="1")
    if fake is not None:
        env.update(HERALD_GRAPH_API_URL=fake.url + "/graph",
                   HERALD_LINKEDIN_API_URL=fake.url + "/linkedin")
    env.update({f"HERALD_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@contextmanager
def running_workers(count: int, env: dict[str, str], log_dir: str) -> Iterator[
        Sequence[subprocess.Popen[bytes]]]:
    procs = []
    try:
        for i in range(count):
            log = open(os.path.join(log_dir, f"worker-{i}.log"), "wb")  # noqa: SIM115
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "herald", "worker", "--id", f"bench-{i}"],
                env=env, stdout=log, stderr=subprocess.STDOUT))
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
