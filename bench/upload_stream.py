"""Upload streaming: resident memory of a real `herald serve` around one large video upload.

Streams an authenticated multipart upload of an MP4 of MEGABYTES (default 500) to
POST /api/v1/media, never holding it in the benchmark's memory either, and prints the
server's RSS and peak RSS (VmHWM) before and after.

    python -m bench.upload_stream --megabytes 500
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.platform import free_port
from tests.media_files import mp4_bytes

CHUNK = 1024 * 1024
BOUNDARY = "herald-bench-boundary"


def _memory_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def _body(size: int) -> Iterator[bytes]:
    """A multipart form with one MP4 whose mdat holds `size` zero bytes, made as it is sent."""
    head = mp4_bytes(data_bytes=0)[:-8] + struct.pack(">I", 8 + size) + b"mdat"
    yield (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"'
           "\r\nContent-Type: video/mp4\r\n\r\n").encode() + head
    zero = bytes(CHUNK)
    for _ in range(size // CHUNK):
        yield zero
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _herald(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "herald", *args], env=env, check=True,
                          capture_output=True, text=True).stdout


def run(megabytes: int) -> dict[str, object]:
    work = tempfile.mkdtemp(prefix="herald-upload-memory-")
    env = {**os.environ, "HERALD_DATABASE_URL": f"sqlite:///{work}/herald.db",
           "HERALD_MEDIA_DIR": f"{work}/media", "TMPDIR": work}
    port = free_port()
    server: subprocess.Popen[bytes] | None = None
    try:
        _herald(env, "db", "upgrade")
        token = json.loads(_herald(env, "company", "create", "--json", "Bench"))["api_token"]
        server = subprocess.Popen([sys.executable, "-m", "herald", "serve", "--port", str(port)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                httpx.get(f"{base}/healthz")
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        before = _memory_mib(server.pid)
        response = httpx.post(f"{base}/api/v1/media", content=_body(megabytes * CHUNK),
                              timeout=600, headers={
                                  "authorization": f"Bearer {token}",
                                  "content-type": f"multipart/form-data; boundary={BOUNDARY}"})
        after = _memory_mib(server.pid)
        return {"status": response.status_code, "megabytes": megabytes,
                "before": before, "after": after}
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=500)
    print(json.dumps(run(parser.parse_args().megabytes), indent=2))


if __name__ == "__main__":
    main()
