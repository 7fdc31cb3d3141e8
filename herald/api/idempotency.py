"""The Idempotency-Key header on the API's create routes: a retry gets the first answer.

A pure ASGI layer inside `BodyGuard` (which has checked the token, so the company is known,
and caps the body this layer buffers). The route runs unchanged; this layer keeps what it
answered. Answers of 5xx are not kept: the key is freed so the retry runs again.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from anyio import CancelScope, to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald.bodies import COMPANY_KEY
from herald.db import Database
from herald.models import utcnow
from herald.services import idempotency
from herald.services.idempotency import Verdict

#: The POST routes that take the header (the contract: posts, import, accounts).
IDEMPOTENT_PATHS = frozenset({"/api/v1/posts", "/api/v1/posts/import", "/api/v1/accounts",
                              "/api/v1/series"})
#: How long a retry waits for a first request with its key that is still running.
WAIT_SECONDS = 10.0
#: Old keys are purged by the requests that bring keys, at most this often per process.
PURGE_EVERY = 300.0


class IdempotencyLayer:
    """Replays the first answer to a POST's Idempotency-Key; 422 for the key on another body."""

    def __init__(self, app: ASGIApp, *, db: Database) -> None:
        self.app, self.db = app, db
        self._purged_at = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if _applies(scope) else None
        company_id: str | None = scope.get(COMPANY_KEY)
        if key is None or company_id is None:
            await self.app(scope, receive, send)
            return
        problem = idempotency.key_problem(key)
        if problem:
            await _error(send, 422, "invalid", problem)
            return
        body = await _read_body(receive)
        mark = idempotency.fingerprint(scope["path"], scope.get("query_string", b"").decode(
            "latin-1"), body)
        await self._purge()
        found = await self._claim(company_id, key, mark)
        if found.verdict is Verdict.RUN:
            await self._run(scope, body, receive, send, company_id, key)
        elif found.verdict is Verdict.REPLAY:
            await _replay(send, found)
        elif found.verdict is Verdict.MISMATCH:
            await _error(send, 422, "idempotency_key_reused", (
                f"The Idempotency-Key {key!r} was used before with a different request "
                "(another body, route or query); send a new key for a new request."))
        else:
            await _error(send, 409, "conflict", (
                f"A request with the Idempotency-Key {key!r} is still being processed; "
                "retry in a few seconds to get its answer."))

    async def _claim(self, company_id: str, key: str, mark: str) -> idempotency.Claim:
        """Claim the key; while its first request runs, wait a little for its answer."""
        def claim() -> idempotency.Claim:
            return idempotency.claim(self.db, company_id=company_id, key=key,
                                     fingerprint=mark, now=utcnow())

        def peek() -> idempotency.Claim | None:
            # Read only: polling by INSERT would log a unique violation each time.
            return idempotency.peek(self.db, company_id=company_id, key=key,
                                    fingerprint=mark, now=utcnow())

        deadline = time.monotonic() + WAIT_SECONDS
        found: idempotency.Claim | None = await to_thread.run_sync(claim)
        while found is None or found.verdict is Verdict.IN_PROGRESS:
            if time.monotonic() > deadline:
                return found or idempotency.Claim(Verdict.IN_PROGRESS)
            await asyncio.sleep(0.1)
            found = await to_thread.run_sync(peek)
            if found is None:  # the first request failed and freed the key: take it
                found = await to_thread.run_sync(claim)
        return found

    async def _run(self, scope: Scope, body: bytes, receive: Receive, send: Send,
                   company_id: str, key: str) -> None:
        # Recorded before it is sent: a client gone mid-send leaves the whole answer kept.
        answer: dict[str, Any] = {"status": 500, "type": "", "chunks": []}
        given = False

        async def replayed_receive() -> Message:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["type"] = _header_of(message.get("headers", []), b"content-type")
            elif message["type"] == "http.response.body":
                answer["chunks"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replayed_receive, recording_send)
        finally:
            # Shielded: a client that hangs up cancels the request, and the answer the
            # route already made (a post created) must still be kept for its retry.
            with CancelScope(shield=True):
                await self._settle(company_id, key, answer)

    async def _settle(self, company_id: str, key: str, answer: dict[str, Any]) -> None:
        """Keep the answer; free the key when there is none, or it is a 5xx."""
        if not answer["chunks"] or answer["status"] >= 500:
            await to_thread.run_sync(lambda: idempotency.abandon(
                self.db, company_id=company_id, key=key))
            return
        text = b"".join(answer["chunks"]).decode("utf-8", "replace")
        await to_thread.run_sync(lambda: idempotency.finish(
            self.db, company_id=company_id, key=key, status=answer["status"],
            content_type=answer["type"] or "application/json", body=text))

    async def _purge(self) -> None:
        if time.monotonic() - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = time.monotonic()
        await to_thread.run_sync(lambda: idempotency.purge(self.db, now=utcnow()))


def _applies(scope: Scope) -> bool:
    return (scope["type"] == "http" and scope["method"] == "POST"
            and scope["path"] in IDEMPOTENT_PATHS)


async def _read_body(receive: Receive) -> bytes:
    # BodyGuard's receive stops a body over the route's cap (its 413 is what leaves).
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> str | None:
    value = _header_of(scope["headers"], name)
    return value if value or any(k == name for k, _ in scope["headers"]) else None


def _header_of(headers: Any, name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return ""


async def _replay(send: Send, found: idempotency.Claim) -> None:
    payload = (found.body or "").encode()
    await send({"type": "http.response.start", "status": found.status or 200, "headers": [
        (b"content-type", (found.content_type or "application/json").encode("latin-1")),
        (b"content-length", str(len(payload)).encode()),
        (b"idempotent-replayed", b"true")]})
    await send({"type": "http.response.body", "body": payload})


async def _error(send: Send, status: int, code: str, message: str) -> None:
    payload = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
