"""/metrics of real processes: `serve --workers 2` adds up both processes' counts
(multiprocess mode in HERALD_METRICS_DIR); `herald worker --metrics-port` serves its own."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.app.test_metrics import scrape, value
from tests.conftest import SECRET
from tests.process.test_cli import HERALD, _free_port


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HERALD_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(HERALD_DATABASE_URL=database_url, HERALD_SECRET_KEY=SECRET, **extra)
    return env


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen[str], what: str,
              timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"exited waiting for {what}: {proc.communicate()[0]}"
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        output, _ = proc.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    return output


def test_serve_workers_adds_up_every_process(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"stale")  # an earlier run's: emptied at start
    env = _env(database_url, HERALD_METRICS_DIR=str(folder))
    port = _free_port()
    proc = subprocess.Popen([*HERALD, "serve", "--port", str(port), "--workers", "2"],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, proc,
                  "the server")
        # Each request on a connection of its own: dealt in turn to both processes.
        for _ in range(10):
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        served_by = {p.name.split("_")[-1] for p in folder.glob("counter_*.db")}
        assert len(served_by) >= 2, served_by  # both processes counted, in files
        # Two scrapes, likely by different processes: each sees every request.
        for _ in range(2):
            samples = scrape(httpx.get(f"{base}/metrics", timeout=10).text)
            assert value(samples, "herald_http_requests_total", method="GET",
                         status="200") >= 11
            assert value(samples, "herald_queue_posts", status="pending") == 0
    finally:
        output = _stop(proc)
    assert "counter_999999.db" not in {p.name for p in folder.iterdir()}, output


def test_worker_serves_metrics_on_its_own_port(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = _env(database_url, HERALD_METRICS_TOKEN="worker-scrape-token")
    proc = subprocess.Popen([*HERALD, "worker", "--id", "metrics-w1", "--metrics-port",
                             str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, proc,
                  "the worker's metrics")
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 401
        answer = httpx.get(f"{base}/metrics", timeout=5,
                           headers={"Authorization": "Bearer worker-scrape-token"})
        assert answer.status_code == 200
        samples = scrape(answer.text)
        assert value(samples, "herald_database_up") == 1
        assert value(samples, "herald_queue_due") == 0
        assert "# TYPE herald_lease_rescues_total counter" in answer.text
    finally:
        output = _stop(proc)
    assert proc.returncode == 0, output
    assert f"worker metrics on http://127.0.0.1:{port}/metrics" in output
