"""The outermost ASGI layer: every HTTP request gets an id, is counted and timed.

The id is the client's `X-Request-ID` when it is a sane token (a proxy or a client that
made one wants to find its request in Herald's logs), else a new one; it is answered in
`X-Request-ID` and carried by every log line the request causes (herald.log_context).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald import log_context, metrics

HEADER = "x-request-id"
#: What an id taken from a client may be: a log line must not be forged through it.
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
#: Methods counted by name; anything else is "other" (a label per made-up method would let
#: a client grow the metrics without bound).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id(scope: Scope) -> str:
    """The client's X-Request-ID if it is sane, else a new random one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given: str = value.decode("latin-1").strip()
            if _SANE_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestLayer:
    """An id for each request (in its answer and its log lines), counted and timed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before it starts one
        rid = request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        try:
            with log_context.bound(request_id=rid):
                await self.app(scope, receive, sending)
        finally:
            method: Any = scope.get("method", "")
            metrics.request_served(method if method in _METHODS else "other", status,
                                   time.perf_counter() - started)
