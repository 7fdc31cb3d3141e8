"""A real `herald serve`: a client on 127.0.0.1 cannot pick its address with X-Forwarded-For.

uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise; Herald tells it
otherwise (herald/proxies.py), so the sign-in throttle counts the peer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.app.web.conftest import csrf_of
from tests.conftest import SECRET
from tests.process.test_serving import _free_port


def _wait_up(proc: subprocess.Popen[str], base: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"{base}/healthz", timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "herald serve did not come up"
        time.sleep(0.1)


def test_a_loopback_client_cannot_rotate_its_address(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HERALD_") and k != "FORWARDED_ALLOW_IPS"}
    env.update(HERALD_DATABASE_URL=f"sqlite:///{tmp_path}/herald.db", HERALD_SECRET_KEY=SECRET,
               HERALD_SIGNIN_MAX_FAILURES_PER_IP="2")
    subprocess.run([sys.executable, "-m", "herald", "db", "upgrade"], env=env, check=True,
                   capture_output=True, cwd=tmp_path)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "herald", "serve", "--port", str(port)],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        _wait_up(proc, base)
        statuses = []
        with httpx.Client(base_url=base) as client:
            for n in range(3):
                token = csrf_of(client.get("/signin").text)
                statuses.append(client.post(
                    "/signin", headers={"X-Forwarded-For": f"198.51.100.{n}"},
                    data={"email": f"guess{n}@example.com", "password": "wrong password",
                          "csrf_token": token}).status_code)
        assert statuses == [401, 401, 429]
    finally:
        proc.kill()
        proc.communicate(timeout=30)
