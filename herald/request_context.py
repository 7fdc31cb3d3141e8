"""The outermost ASGI layer: every HTTP request counted and timed for /metrics."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald import metrics

#: Methods counted by name; anything else is "other" (a label per made-up method would let
#: a client grow the metrics without bound).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestLayer:
    """Counts each request by method and status and observes how long it took."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before it starts one

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method: Any = scope.get("method", "")
            metrics.request_served(method if method in _METHODS else "other", status,
                                   time.perf_counter() - started)
