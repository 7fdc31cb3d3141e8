"""`herald serve --workers N`: connections dealt in turn, a dead process replaced, a clean stop.

Real processes and real sockets; which process holds a connection is read from /proc.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux /proc")

WORKERS = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_processes(parent: int) -> list[int]:
    children = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) != parent:
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                # Not multiprocessing's resource tracker, also a child of the parent.
                if b"spawn_main" in f.read():
                    children.append(int(name))
        except OSError:
            continue
    return children


def _connections_held(pids: list[int], port: int) -> dict[int, int]:
    """How many established connections to `port` each process holds."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(fields[9])
    held = {}
    for pid in pids:
        links = []
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # it has exited
            fds = []
        for fd in fds:
            try:
                links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
        held[pid] = sum(1 for link in links if link[len("socket:["):-1] in inodes)
    return held


def _ask(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {answer!r}"
        answer += chunk
    return answer


def _wait_until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(HERALD_DATABASE_URL=f"sqlite:///{tmp_path}/herald.db", HERALD_SECRET_KEY=SECRET)
    subprocess.run([sys.executable, "-m", "herald", "db", "upgrade"], env=env, check=True,
                   capture_output=True, cwd=tmp_path)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "herald", "serve", "--port", str(port), "--workers",
         str(WORKERS)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)

    def up() -> bool:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success
        except httpx.TransportError:
            return False

    try:
        _wait_until(up)
        # Every process must be serving before a count of connections means anything.
        _wait_until(lambda: len(_server_processes(proc.pid)) == WORKERS)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def _split(proc: subprocess.Popen[str], port: int, connections: int) -> list[int]:
    """Open `connections` at once, get an answer on each, and count them per process."""
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    try:
        for s in sockets:
            assert _ask(s).startswith(b"HTTP/1.1 200")
        return sorted(_connections_held(_server_processes(proc.pid), port).values())
    finally:
        for s in sockets:
            s.close()


def test_connections_made_at_once_are_dealt_evenly(served):
    proc, port = served
    assert _split(proc, port, 8) == [4, 4]


def test_a_server_process_that_dies_is_replaced(served):
    proc, port = served
    victim = _server_processes(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    _wait_until(lambda: victim not in _server_processes(proc.pid)
                and len(_server_processes(proc.pid)) == WORKERS)
    # New connections reach both processes, the new one included.
    assert _split(proc, port, 4) == [2, 2]
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=40)
    assert "exited with code -9; starting another" in output


def test_sigterm_stops_every_process(served):
    proc, port = served
    children = _server_processes(proc.pid)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=40)
    assert proc.returncode == 0, output
    assert all(not Path(f"/proc/{pid}").exists() for pid in children)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
