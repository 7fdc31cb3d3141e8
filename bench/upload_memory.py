"""Upload memory: UPLOADS concurrent uploads of the worst image that passes, against a real
`herald serve`, and the server's peak resident memory (VmRSS of the process and its
children, sampled from /proc every few milliseconds).

    python -m bench.upload_memory --uploads 16 --width 6000 --height 6000

The image is the attacker's kind (issue 13, #2): a transparent RGBA PNG of the largest size
Herald accepts (6000x6000, 36 MP, under LinkedIn's 36,152,320-pixel cap), flat so that it
compresses to about 150 KB while decoding to 144 MB, and converted to JPEG on upload.
`--decodes` sets HERALD_MAX_CONCURRENT_DECODES for the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import httpx

from bench.api import _wait_up
from bench.common import fresh_database, process_tree, seed_company, settings_for
from bench.platform import free_port, worker_env
from herald.runtime import Herald
from tests.media_files import flat_png


def _tree_rss_mb(root: int) -> float:
    """VmRSS of a process and its descendants (Linux /proc), in MB."""
    tree = process_tree(root)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next((int(line.split()[1]) for line in f
                               if line.startswith("VmRSS:")), 0)
        except OSError:  # gone meanwhile
            continue
    return total / 1024


class PeakSampler(threading.Thread):
    """Samples a process tree's RSS until stopped; keeps the highest."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self._done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak_mb = max(self.peak_mb, _tree_rss_mb(self.pid))
            self._done.wait(0.005)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return round(self.peak_mb, 1)


async def _upload_all(base: str, token: str, png: bytes, uploads: int) -> list[int]:
    async with httpx.AsyncClient(base_url=base, timeout=600,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        async def one(n: int) -> int:
            response = await client.post("/api/v1/media", files={
                "file": (f"poster-{n}.png", png, "image/png")})
            return response.status_code

        return list(await asyncio.gather(*[one(n) for n in range(uploads)]))


def run(uploads: int, width: int, height: int, decodes: int | None = None) -> dict[str, Any]:
    png = flat_png(width, height)
    with tempfile.TemporaryDirectory() as tmpdir:
        url = fresh_database("sqlite", "herald_bench_upload", tmpdir)
        herald = Herald.from_settings(settings_for(url))
        _, token, _ = seed_company(herald.db, herald.cipher, [("facebook", "page-1", "t1")])
        herald.db.dispose()
        port = free_port()
        extra = {"max_concurrent_decodes": decodes} if decodes else {}
        env = worker_env(url, None, media_dir=f"{tmpdir}/media", **extra)
        server = subprocess.Popen(
            [sys.executable, "-m", "herald", "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_up(base, timeout=180)  # a loaded 2-core machine starts slowly
            idle_mb = round(_tree_rss_mb(server.pid), 1)
            sampler = PeakSampler(server.pid)
            sampler.start()
            started = time.monotonic()
            statuses = asyncio.run(_upload_all(base, token, png, uploads))
            seconds = round(time.monotonic() - started, 2)
            peak_mb = sampler.stop()
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    return {"uploads": uploads, "width": width, "height": height, "png_bytes": len(png),
            "decodes": decodes, "statuses": sorted(set(statuses)),
            "stored": statuses.count(201), "idle_rss_mb": idle_mb, "peak_rss_mb": peak_mb,
            "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=16, help="concurrent uploads")
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=6000)
    parser.add_argument("--decodes", type=int, default=None,
                        help="HERALD_MAX_CONCURRENT_DECODES for the server (default: its own)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    r = run(args.uploads, args.width, args.height, args.decodes)
    if args.json:
        print(json.dumps(r))
        return
    print(f"{r['uploads']} concurrent uploads of a {r['width']}x{r['height']} PNG "
          f"({r['png_bytes']:,} bytes): statuses {r['statuses']}, {r['stored']} stored in "
          f"{r['seconds']} s; server RSS {r['idle_rss_mb']} MB idle, "
          f"peak {r['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
