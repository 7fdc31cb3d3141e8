"""A real Herald (API, UI, worker, sandbox) on a free port, and a Chromium to drive it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import uvicorn

from herald.app import create_app
from herald.config import Settings
from herald.models import utcnow
from herald.runtime import Herald
from tests.process.debian import ensure_program, unavailable

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling home, which on a closed
# network means a flood of failing connections.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


__all__ = ["CHROMIUM_ARGS", "LiveHerald", "ensure_chromium", "start_live", "unavailable"]


def ensure_chromium() -> str:
    """Debian's Chromium, installed with apt-get when missing and we are root."""
    return ensure_program(CHROMIUM, "chromium")


@dataclass
class LiveHerald:
    url: str
    herald: Herald
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def start_live(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> LiveHerald:
    """Herald as `herald run` runs it: sandbox in-app, a worker in the server's loop;
    `clock` is what "now" is to its use cases (Herald.clock)."""
    # Bind first so the public URL (media URLs, the sandbox's base) names the real port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    herald = Herald.build(settings.model_copy(update={"public_url": url}), platforms=True,
                          sandbox=True, quick=True, clock=clock)
    app = create_app(herald, run_worker=True, worker_id="browser-test")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="live-herald", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the live Herald did not start")
        time.sleep(0.02)
    return LiveHerald(url, herald, server, thread)
