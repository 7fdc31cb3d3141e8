"""What every fake API call shares: request parsing, latency, faults and commit bookkeeping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from herald.platforms.fake.faults import FaultRule
from herald.platforms.fake.models import CommitCall, utc
from herald.platforms.fake.state import FakeState


class BadRequestBody(ValueError):
    """The request body could not be parsed."""


class DroppedResponse(Response):
    """Starts a response it never finishes, so the client sees the connection die.

    Raising inside the app would make uvicorn answer 500 instead. Announcing a body and
    returning without it makes uvicorn close the socket ("ASGI callable returned without
    completing response"), and httpx raises RemoteProtocolError: the outcome of the call
    is unknown to the client, which is what we emulate.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        })


@dataclass
class CallInfo:
    """Bookkeeping for one API call, filled in by the handler as it learns things."""

    platform: str
    endpoint: str  # fault endpoint kind: container / upload / status / commit / read
    name: str  # what was called, e.g. "media_publish", "feed", "rest/posts"
    account: str | None = None
    caption: str | None = None
    external_id: str | None = None
    error: str | None = None
    fault: FaultRule | None = None

    @property
    def dropping(self) -> bool:
        """The call will be applied but its response dropped."""
        return self.fault is not None and self.fault.kind == "drop"

    @property
    def processing_error(self) -> bool:
        return self.fault is not None and self.fault.kind == "processing_error"


async def pause(state: FakeState) -> None:
    """The configured per-call latency."""
    latency = state.config.latency
    if latency > 0:
        await asyncio.sleep(latency)


async def run_call(
    state: FakeState,
    info: CallInfo,
    handle: Callable[[], Awaitable[Response]],
    refuse: Callable[[FaultRule], Response],
) -> Response:
    """Run `handle` under whatever fault fires for this call and log commit calls."""
    rule = info.fault = state.pick_fault(info.platform, info.endpoint)
    applied = True
    response: Response
    if rule is None or rule.kind in ("drop", "processing_error"):
        response = await handle()
    elif rule.kind in ("error", "throttle"):
        response, applied = refuse(rule), False
    elif rule.kind == "timeout":
        # The handler keeps running after the client gave up (uvicorn does not cancel it),
        # so with apply=True the post still goes out late: the nastiest real-world case.
        await asyncio.sleep(rule.delay)
        if rule.apply:
            response = await handle()
        else:
            response, applied = DroppedResponse(), False
    else:  # reset
        response, applied = DroppedResponse(), False

    if info.endpoint == "commit":
        if not applied:
            outcome = "fault"
        elif response.status_code >= 400:
            outcome = "error"
        else:
            outcome = "dropped" if info.dropping else "ok"
        state.log_commit(CommitCall(
            platform=info.platform, account=info.account, endpoint=info.name,
            at=utc(state.now()), outcome=outcome, fault=rule.kind if rule else None,
            external_id=info.external_id if outcome in ("ok", "dropped") else None,
            caption=info.caption, error=info.error,
        ))
    if info.dropping:
        return DroppedResponse()
    return response


# --- request helpers -------------------------------------------------------------------


async def read_params(request: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Query parameters merged with a JSON, form or multipart body; files kept apart.

    A key given more than once (children=1&children=2) becomes a list.
    """
    params: dict[str, Any] = _multi(request.query_params.multi_items())
    files: dict[str, bytes] = {}
    if request.method not in ("POST", "PUT", "DELETE"):
        return params, files
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError:
                raise BadRequestBody("the JSON body could not be parsed") from None
            if not isinstance(data, dict):
                raise BadRequestBody("the JSON body must be an object")
            params.update(data)
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        fields: list[tuple[str, str]] = []
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = await value.read()
            else:
                fields.append((key, value))
        params.update(_multi(fields))
    return params, files


def _multi(items: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in items:
        if key not in out:
            out[key] = value
        elif isinstance(out[key], list):
            out[key].append(value)
        else:
            out[key] = [out[key], value]
    return out


def as_bool(value: Any, default: bool) -> bool:
    if isinstance(value, list):  # a repeated parameter: the last one wins
        value = value[-1] if value else None
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def as_text(value: Any) -> str:
    if isinstance(value, list):  # a repeated parameter: the last one wins
        value = value[-1] if value else None
    return "" if value is None else str(value)


def split_fields(raw: str | None) -> list[str]:
    """Split a Graph `fields` list on top-level commas; nested `{…}` selections are dropped."""
    return list(split_nested_fields(raw))


def split_nested_fields(raw: str | None) -> dict[str, str]:
    """Top-level fields of a Graph `fields` list, each with its nested `{…}` selection ("" if
    none): "id,instagram_business_account{id,username}" → {"id": "", "instagram_…": "id,…"}."""
    out: dict[str, str] = {}
    depth, name, inner = 0, "", ""
    for char in (raw or "") + ",":
        if char == "{":
            depth += 1
            if depth == 1:
                continue
        elif char == "}":
            depth -= 1
            if depth == 0:
                continue
        elif char == "," and depth == 0:
            if name.strip():
                out[name.strip()] = inner
            name, inner = "", ""
            continue
        if depth == 0:
            name += char
        else:
            inner += char
    return out


def mount_url(request: Request) -> str:
    """Absolute URL of the mount serving this request (scheme, host and root_path).

    Starlette's request.base_url deliberately ignores the root_path of inner mounts, so
    build it from the scope: that keeps URLs right when the fake sits under /sandbox.
    (Plain string work: this runs on every publish, and URL objects are slow to build.)
    """
    scope = request.scope
    host = request.headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}".rstrip("/")


def fake_root_url(request: Request, mount: str) -> str:
    """Absolute URL of the fake app's root, from a request served under `mount`."""
    return mount_url(request).removesuffix(mount)
