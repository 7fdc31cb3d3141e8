"""A database that is restarting or unreachable is a 503 with Retry-After, not a 500.

During a restart (or a failover, or a network cut) every statement on a pooled connection
fails with a DBAPI disconnect, and new connections are refused: SQLAlchemy raises
OperationalError (or InterfaceError, or its pool's TimeoutError). Nothing is wrong with the
request; it should simply be sent again in a few seconds. Routes, the token check and the
idempotency layer all touch the database, and exception handlers only see what routes
raise, so this is a pure ASGI layer around all of them (inside RequestLayer, which counts
and ids the answer).
"""

from __future__ import annotations

import json
import logging

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait (a PostgreSQL or MariaDB restart took 3-6 s here).
RETRY_AFTER = 5
CODE = "database_unavailable"
MESSAGE = ("Herald cannot reach its database right now (it may be restarting or busy). "
           f"Try again in {RETRY_AFTER} seconds; send an Idempotency-Key with a create "
           "so that a retry cannot make it twice.")


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database is away or busy (try later), not that the SQL is bad."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | DisconnectionError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def reason(exc: BaseException) -> str:
    """The driver's first line, for the log (never for the client: it names hosts)."""
    orig = getattr(exc, "orig", None)
    lines = str(orig or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class DatabaseUnavailable:
    """Answers 503 + Retry-After (the API's JSON error) when the database is unreachable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started or not is_unavailable(exc):
                raise  # half an answer cannot become a 503; bad SQL stays a 500
            log.warning("%s %s: database unavailable (%s); answered 503",
                        scope.get("method"), scope.get("path"), reason(exc))
            await answer(send)


async def answer(send: Send) -> None:
    payload = json.dumps({"error": {"code": CODE, "message": MESSAGE}}).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"retry-after", str(RETRY_AFTER).encode())]})
    await send({"type": "http.response.body", "body": payload})
