"""Waiting on spawned processes (Herald, Prometheus, PgBouncer …) and stopping them."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx


def wait_for(check: Callable[[], Any], what: str, procs: Sequence[subprocess.Popen[str]],
             timeout: float = 90) -> Any:
    """`check()`'s first truthy result, polled while every process in `procs` runs.

    A connection refused (not up yet) or a half-formed answer counts as not yet.
    """
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            assert proc.poll() is None, f"{proc.args} exited waiting for {what}"
        try:
            result = check()
            if result:
                return result
        except (httpx.TransportError, KeyError, IndexError, ValueError):
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def stop(proc: subprocess.Popen[str], timeout: float = 40) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
