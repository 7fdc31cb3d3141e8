"""Child processes of the chaos test: the platform fake and the worker pool.

Every child is started in its own session (a Ctrl-C in the terminal reaches only the
harness, which then stops them in order) and, on Linux, with PR_SET_PDEATHSIG so that it
dies with the harness even if the harness itself is SIGKILLed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    # Loaded here, in the parent: a fork child must not run the dynamic loader.
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def spawn(args: list[str], *, log: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a child with stdout and stderr appended to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            cwd=cwd, start_new_session=True, preexec_fn=_die_with_parent,
        )


def stop_process(proc: subprocess.Popen[bytes], *, grace: float) -> int | None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL; returns the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
    return proc.poll()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file (for reports on processes that died)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- the worker pool -------------------------------------------------------------------


@dataclass
class WorkerProc:
    worker_id: str
    proc: subprocess.Popen[bytes]
    log: Path
    started: float
    #: Set when the harness SIGKILLed it on purpose.
    killed: bool = False


@dataclass
class UnexpectedExit:
    """A worker that exited without being told to: the chaos test counts it as a failure."""

    worker_id: str
    returncode: int | None
    uptime: float
    at: float
    log: str
    log_tail: str

    def as_dict(self) -> dict[str, Any]:
        return {"worker_id": self.worker_id, "returncode": self.returncode,
                "uptime_s": round(self.uptime, 1), "log": self.log,
                "log_tail": self.log_tail}


@dataclass
class WorkerPool:
    """W `herald worker` processes; kills and replaces them, notices any that die alone."""

    size: int
    env: dict[str, str]
    log_dir: Path
    cwd: Path
    rng: random.Random
    started_total: int = 0
    kills: int = 0
    workers: list[WorkerProc] = field(default_factory=list)
    unexpected: list[UnexpectedExit] = field(default_factory=list)
    #: Workers that exited, with their logs, for the log scan at the end.
    retired: list[WorkerProc] = field(default_factory=list)

    def start_one(self) -> WorkerProc:
        self.started_total += 1
        worker_id = f"chaos-{self.started_total}"
        log = self.log_dir / f"worker-{worker_id}.log"
        proc = spawn([sys.executable, "-m", "herald", "worker", "--id", worker_id],
                     log=log, env=self.env, cwd=self.cwd)
        worker = WorkerProc(worker_id, proc, log, time.monotonic())
        self.workers.append(worker)
        return worker

    def fill(self) -> None:
        while len(self.workers) < self.size:
            self.start_one()

    def reap(self, *, replace: bool = True) -> list[UnexpectedExit]:
        """Collect workers that exited by themselves (and replace them, if `replace`)."""
        found: list[UnexpectedExit] = []
        for worker in list(self.workers):
            code = worker.proc.poll()
            if code is None:
                continue
            self.workers.remove(worker)
            self.retired.append(worker)
            now = time.monotonic()
            found.append(UnexpectedExit(worker.worker_id, code, now - worker.started, now,
                                        str(worker.log), tail(worker.log)))
        self.unexpected.extend(found)
        if replace:
            self.fill()
        return found

    def kill_random(self, *, working: set[str], min_age: float) -> WorkerProc | None:
        """SIGKILL one random worker (by its pid) and start a replacement.

        Candidates are workers seen `working` (they claimed posts) or up `min_age` seconds:
        killing one still importing its modules (3-5 s on a small machine) tests nothing
        and, done every 2 s, would keep any worker from ever claiming a post.
        """
        now = time.monotonic()
        alive = [w for w in self.workers if w.proc.poll() is None
                 and (w.worker_id in working or now - w.started >= min_age)]
        if not alive:
            return None
        victim = self.rng.choice(alive)
        victim.killed = True
        with contextlib.suppress(ProcessLookupError):
            victim.proc.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            victim.proc.wait(timeout=10)
        self.kills += 1
        self.workers.remove(victim)
        self.retired.append(victim)
        self.fill()
        return victim

    def stop_all(self, *, grace: float) -> None:
        """SIGTERM every worker (graceful shutdown), SIGKILL what is left after `grace`."""
        for worker in self.workers:
            if worker.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for worker in self.workers:
            try:
                worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.proc.wait(timeout=10)
        self.retired.extend(self.workers)
        self.workers = []

    def youngest_age(self) -> float:
        now = time.monotonic()
        return min((now - w.started for w in self.workers), default=float("inf"))

    def all_logs(self) -> list[Path]:
        return [w.log for w in [*self.retired, *self.workers]]
