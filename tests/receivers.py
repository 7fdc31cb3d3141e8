"""A real HTTP receiver for webhooks on loopback: records each request, answers as told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    #: Answers to give in turn: (status, headers); the last one repeats. Or a callable.
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=lambda: [(200, {})])
    #: Seconds to wait before answering the request with this index (0-based).
    delays: dict[int, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_request: Callable[[Received], None] | None = None

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, (
                f"the receiver got {len(self.received)} requests, not {count}")
            time.sleep(0.02)
        return list(self.received)


@contextmanager
def receiver(path: str = "/hook") -> Iterator[Receiver]:
    """A ThreadingHTTPServer on 127.0.0.1 (an ephemeral port) for the test's length."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            got = Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                           self.rfile.read(length))
            with state.lock:
                index = len(state.received)
                state.received.append(got)
                status, headers = state.answers[min(index, len(state.answers) - 1)]
            if state.on_request is not None:
                state.on_request(got)
            delay = state.delays.get(index, 0.0)
            if delay:
                time.sleep(delay)
            body = json.dumps({"ok": 200 <= status < 300}).encode()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
