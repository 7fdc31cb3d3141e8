"""`herald worker --metrics-port`: /metrics and /healthz on a port of the worker's own.

A worker has no web server; this is a small threaded one beside its event loop, so a
scrape never waits for the loop nor slows it (the queue's counts run in its thread).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry

from herald import __version__, metrics

log = logging.getLogger(__name__)


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], *, token: str | None,
                 queue: CollectorRegistry | None) -> None:
        super().__init__(address, _Handler)
        self.token, self.queue = token, queue
        self._thread = threading.Thread(target=self.serve_forever, name="herald-metrics",
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._answer(200, "application/json",
                         json.dumps({"ok": True, "version": __version__}).encode())
        elif path != "/metrics":
            self._answer(404, "text/plain", b"not found; try /metrics\n")
        elif not metrics.authorized(self.headers.get("authorization"), self.server.token):
            self._answer(401, "text/plain",
                         b"metrics need the bearer token of HERALD_METRICS_TOKEN\n")
        else:
            self._answer(200, metrics.CONTENT_TYPE, metrics.exposition(self.server.queue))

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every few seconds is not news


def serve(host: str, port: int, *, token: str | None,
          queue: CollectorRegistry | None) -> MetricsServer:
    """Start serving in a background thread (port 0: any free port)."""
    server = MetricsServer((host, port), token=token, queue=queue).start()
    log.info("worker metrics on http://%s:%d/metrics", host, server.port)
    return server
