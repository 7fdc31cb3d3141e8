"""Request bodies: authenticated before they are read, capped per route before and while read.

FastAPI parses a route's body before it runs the route's dependencies, so an API token
checked in a dependency is checked only after the whole body has been read (a 300 MB JSON
body, or a multipart one spooled to /tmp, before the 401). `BodyGuard` is a pure ASGI
layer (no BaseHTTPMiddleware: the API's create path is its hot path) that, for a request
with a body, checks first — the bearer token for the API, a signed-in session for the web
UI's uploads, the session and its CSRF token for every web form — and then caps the
body by its Content-Length and while it streams in.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald.api.auth import TokenCache
from herald.config import Settings
from herald.errors import AppError, Unauthorized
from herald.media import human_size
from herald.platforms.registry import SANDBOX_PATH
from herald.services.companies import ApiCaller
from herald.web import API_PREFIX
from herald.web.sessions import CSRF_HEADER, refusal_before_reading

#: Room for a multipart form's boundaries, headers and small fields around the file.
MULTIPART_OVERHEAD = 1024 * 1024
#: Paths whose body carries files (the upload cap); every other body gets the JSON cap.
UPLOAD_PATHS = frozenset({"/api/v1/media", "/api/v1/schedule-post", "/schedule-post"})
WEB_UPLOAD_PATHS = frozenset({"/compose", "/compose/media"})
#: Bulk imports (a CSV or JSON file): their own cap, HERALD_MAX_IMPORT_BYTES.
IMPORT_PATHS = frozenset({"/api/v1/posts/import", "/import"})
#: Paths outside /api/ that take a bearer token (the seed's aliases at the root).
TOKEN_PATHS = frozenset({"/schedule-post"})
#: The key under which the company of a checked token is left (for the idempotency layer).
COMPANY_KEY = "herald.company_id"
#: The key under which a checked token's `ApiCaller` is left for `get_context`.
CALLER_KEY = "herald.caller"
#: DELETE routes take no body, and FastAPI reads none for them.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

Lookup = Callable[[str], Awaitable[ApiCaller]]


class BodyGuard:
    """Refuse unauthenticated bodies unread; 413 for a body over its route's cap."""

    def __init__(self, app: ASGIApp, *, settings: Settings, cache: TokenCache[ApiCaller],
                 lookup: Lookup, web_form: Callable[[str], bool] = lambda path: False
                 ) -> None:
        # The settings are read per request, not copied: a test may change them.
        self.app, self.settings, self.cache, self.lookup = app, settings, cache, lookup
        #: Whether a path is a web UI form (CSRF and session checked before the body).
        self.web_form = web_form

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        refusal = await self._refusal(scope, path)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        cap, setting = self._cap(path)
        length = _content_length(scope)
        if length is not None and length > cap:
            await _answer(send, 413, "too_large", _too_large(cap, setting))
            return
        await _Capped(self.app, cap, _too_large(cap, setting))(scope, receive, send)

    def _cap(self, path: str) -> tuple[int, str]:
        """The route's cap, and the setting that sets it (for the 413's message)."""
        if path in UPLOAD_PATHS or path in WEB_UPLOAD_PATHS or path.startswith(SANDBOX_PATH):
            return (self.settings.media_max_upload_bytes + MULTIPART_OVERHEAD,
                    "HERALD_MEDIA_MAX_UPLOAD_BYTES")
        if path in IMPORT_PATHS:  # the web UI's form carries the file as multipart
            extra = 0 if path.startswith(API_PREFIX) else MULTIPART_OVERHEAD
            return self.settings.max_import_bytes + extra, "HERALD_MAX_IMPORT_BYTES"
        return self.settings.max_json_bytes, "HERALD_MAX_JSON_BYTES"

    async def _refusal(self, scope: Scope, path: str) -> tuple[int, str, str] | None:
        if path.startswith(API_PREFIX) or path in TOKEN_PATHS:
            return await self._check_token(scope)
        if path in WEB_UPLOAD_PATHS and not scope.get("session", {}).get("user_id"):
            # The CSRF token is in the form; a file is only read for someone signed in.
            return 403, "csrf", "Sign in to upload files."
        if self.web_form(path):
            reason = refusal_before_reading(scope.get("session") or {}, path,
                                            _header(scope, CSRF_HEADER.encode()) or None)
            if reason is not None:
                return 403, "csrf", reason
        return None

    async def _check_token(self, scope: Scope) -> tuple[int, str, str] | None:
        header = _header(scope, b"authorization")
        scheme, _, value = header.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
        try:
            if not token:
                raise Unauthorized()
            caller = await self.cache.company_id(token, self.lookup)
            scope[CALLER_KEY], scope[COMPANY_KEY] = caller, caller.company_id
        except AppError as exc:
            return exc.status, exc.code, exc.message
        return None


class _Capped:
    """Runs the app with a receive that stops a body at `cap` and a 413 in place of its answer."""

    def __init__(self, app: ASGIApp, cap: int, message: str) -> None:
        self.app, self.cap, self.message = app, cap, message
        self.received = 0
        self.exceeded = False
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def capped_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.cap:
                    self.exceeded = True
                    # Raised into whoever reads the body; the 413 below is what leaves.
                    raise HTTPException(413, self.message)
            return message

        async def guarded_send(message: Message) -> None:
            if self.exceeded:
                if not self.started:
                    self.started = True
                    await _answer(send, 413, "too_large", self.message)
                return
            self.started = self.started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not self.exceeded:
                raise
            await guarded_send({"type": "http.response.start"})


def _too_large(cap: int, setting: str) -> str:
    return (f"The request body is larger than the {human_size(cap)} Herald accepts here "
            f"(set by {setting}).")


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return ""


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    return int(value) if value.isdigit() else None


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})
