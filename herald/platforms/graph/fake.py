"""The fake Graph API (Instagram via Facebook Login, and Facebook Pages), and the same
pipeline for graph.instagram.com (Instagram via Instagram Login, see `GraphHost`).

Requests arrive as ``/{version}/{object-id}[/{edge}]``. Every call goes through the same
steps as on graph.facebook.com: version, token, object lookup and ownership, usage
headers and throttling, then injected faults, then the handler registered for
(method, kind of object, edge) by instagram.py or facebook.py.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from herald.platforms.fake.calls import (
    BadRequestBody,
    CallInfo,
    fake_root_url,
    pause,
    read_params,
    run_call,
    split_fields,
    split_nested_fields,
)
from herald.platforms.fake.faults import FaultRule
from herald.platforms.fake.media_check import MediaFetcher
from herald.platforms.fake.models import FACEBOOK, INSTAGRAM, INSTAGRAMS, Account, Token, utc
from herald.platforms.fake.state import FakeState, GraphNode
from herald.platforms.graph import fake_errors as errors
from herald.platforms.instagram.fake.models import Container

#: Where create_fake_app mounts the Graph API; HERALD_GRAPH_API_URL = <fake>/graph.
GRAPH_MOUNT = "/graph"
#: Any major version is accepted, as Graph does while the version lives.
GRAPH_VERSION = re.compile(r"v\d+\.0")
_COMPACT = (",", ":")

GraphHandler = Callable[["GraphCall"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class GraphHost:
    """Which Graph API host a pipeline stands for: where it is mounted, the token namespace
    it takes (state.token), the platforms whose objects it serves, and whose /me it is."""

    mount: str = GRAPH_MOUNT
    tokens: str = "graph"
    platforms: frozenset[str] = frozenset({INSTAGRAM, FACEBOOK})
    me: str = FACEBOOK


GRAPH_FACEBOOK = GraphHost()
EndpointKind = str | Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class GraphRoute:
    handler: GraphHandler
    endpoint: EndpointKind
    name: str


class GraphRouter:
    """Handlers keyed by (method, kind of object, edge); edge "" is the object itself."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str], GraphRoute] = {}

    def route(
        self, method: str, kind: str, edge: str = "", *, endpoint: EndpointKind = "read",
    ) -> Callable[[GraphHandler], GraphHandler]:
        def register(handler: GraphHandler) -> GraphHandler:
            self.routes[(method, kind, edge)] = GraphRoute(handler, endpoint, edge or kind)
            return handler

        return register

    def include(self, other: GraphRouter) -> None:
        self.routes.update(other.routes)


@dataclass
class GraphCall:
    """One Graph request, authenticated and resolved, as handlers see it."""

    state: FakeState
    fetcher: MediaFetcher
    request: Request
    params: dict[str, Any]
    files: dict[str, bytes]
    token: Token
    object_id: str
    node: Account | GraphNode | None  # None for /me
    info: CallInfo
    host: GraphHost = GRAPH_FACEBOOK

    @property
    def account(self) -> Account:
        """The account that owns the object called (an IG user or a Page)."""
        node = self.node
        if isinstance(node, Account):
            return node
        assert node is not None
        account = self.state.account(node.account_id)
        assert account is not None
        return account

    def fake_root(self) -> str:
        return fake_root_url(self.request, self.host.mount)

    def permalink(self, external_id: str) -> str:
        # Real permalinks point at instagram.com/facebook.com; the fake's point at its own
        # sandbox page, so a sandbox user can click through to what was "published".
        return f"{self.fake_root()}/?id={external_id}"

    def _raw_fields(self) -> str | None:
        raw = self.params.get("fields")
        return ",".join(raw) if isinstance(raw, list) else raw

    def fields(self) -> list[str]:
        return split_fields(self._raw_fields())

    def nested_fields(self, name: str) -> list[str]:
        """The selection inside `name{…}` in `fields`, e.g. instagram_business_account{id}."""
        return split_fields(split_nested_fields(self._raw_fields()).get(name))

    def select(self, node_type: str, available: dict[str, Any], default: tuple[str, ...] = ("id",),
               *, wanted: list[str] | None = None) -> dict[str, Any]:
        """The requested `fields` of a node; like Graph, unknown fields are an error."""
        wanted = wanted or self.fields() or list(default)
        out: dict[str, Any] = {}
        for name in wanted:
            if name not in available:
                raise errors.invalid_param(
                    f"Tried accessing nonexisting field ({name}) on node type ({node_type})"
                )
            if available[name] is not None:
                out[name] = available[name]
        if "id" in available:
            out.setdefault("id", available["id"])
        return out

    def page(self, items: list[dict[str, Any]], default_limit: int = 25) -> dict[str, Any]:
        """A Graph list response with cursor paging."""
        try:
            limit = max(1, min(100, int(self.params.get("limit") or default_limit)))
            after = self.params.get("after")
            start = _decode_cursor(str(after)) if after else 0
        except ValueError:
            raise errors.invalid_param("Invalid paging parameters") from None
        chunk = items[start:start + limit]
        paging: dict[str, Any] = {}
        if chunk:
            paging["cursors"] = {"before": _cursor(start), "after": _cursor(start + len(chunk))}
        if start + limit < len(items):
            query = dict(self.request.query_params)
            query["after"] = _cursor(start + len(chunk))
            paging["next"] = str(self.request.url.replace_query_params(**query))
        return {"data": chunk, "paging": paging} if paging else {"data": chunk}


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        return int(base64.urlsafe_b64decode(padded).decode())
    except (ValueError, UnicodeDecodeError):
        raise ValueError(cursor) from None


def new_id(state: FakeState, prefix: str) -> str:
    """A fresh 17-digit Graph id; the prefix keeps each kind of object apart."""
    return f"{prefix}{state.next_number():010d}"


def graph_time(ts: float) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%S+0000")


# --- the pipeline ------------------------------------------------------------------------


def graph_routes(state: FakeState, fetcher: MediaFetcher, router: GraphRouter,
                 host: GraphHost = GRAPH_FACEBOOK) -> list[Route]:
    async def endpoint(request: Request) -> Response:
        return await _handle(state, fetcher, router, request, host)

    methods = ["GET", "POST", "DELETE"]
    return [
        Route("/{version}/{object_id}", endpoint, methods=methods),
        Route("/{version}/{object_id}/{edge}", endpoint, methods=methods),
    ]


async def _handle(
    state: FakeState, fetcher: MediaFetcher, router: GraphRouter, request: Request,
    host: GraphHost,
) -> Response:
    await pause(state)
    headers = {"X-App-Usage": _app_usage(state)}
    method = request.method
    object_id = request.path_params["object_id"]
    edge = request.path_params.get("edge", "")
    try:
        if not GRAPH_VERSION.fullmatch(request.path_params["version"]):
            raise errors.unknown_path(request.url.path)
        try:
            params, files = await read_params(request)
        except BadRequestBody as exc:
            raise errors.invalid_param(str(exc)) from None
        token = _authenticate(state, request, params, host.tokens)
        node, kind, platform = _resolve(state, method, object_id, token, host)
        route = router.routes.get((method, kind, edge))
        if route is None:
            raise errors.unsupported(method, object_id if not edge else f"{object_id}/{edge}")
    except errors.GraphError as exc:
        return _error_response(exc, headers)

    endpoint_kind = route.endpoint if isinstance(route.endpoint, str) else route.endpoint(params)
    info = CallInfo(platform=platform, endpoint=endpoint_kind, name=route.name,
                    caption=_caption_hint(state, params))
    call = GraphCall(state, fetcher, request, params, files, token, object_id, node, info,
                     host)
    account = call.account if node is not None else None
    if account is not None:
        info.account = account.id
        headers["X-Business-Use-Case-Usage"] = _buc_usage(account)

    async def handle() -> Response:
        try:
            if account is not None and account.usage_percent >= 100:
                code = 80002 if account.platform in INSTAGRAMS else 80001
                raise errors.throttled(code)
            body = await route.handler(call)
        except errors.GraphError as exc:
            info.error = exc.label
            return _error_response(exc, headers)
        return JSONResponse(body, headers=headers)

    def refuse(rule: FaultRule) -> Response:
        exc = fault_error(rule)
        info.error = exc.label
        return _error_response(exc, headers)

    return await run_call(state, info, handle, refuse)


def fault_error(rule: FaultRule) -> errors.GraphError:
    """The Graph error an injected error/throttle fault answers with."""
    if rule.kind == "error" and rule.code == 390:
        return errors.video_upload_failed(rule.subcode)
    if rule.kind == "error":
        return errors.server_error(rule.code or 2, rule.status)
    return errors.throttled(rule.code or 4, subcode=rule.subcode, status=rule.status)


def _caption_hint(state: FakeState, params: dict[str, Any]) -> str | None:
    """The caption a call carries, known before its handler runs (for the commit log)."""
    for key in ("message", "caption", "description"):
        if isinstance(params.get(key), str):
            return str(params[key])
    creation_id = params.get("creation_id")
    if isinstance(creation_id, str):
        with state.lock:
            container = state.data.nodes.get(creation_id)
        if isinstance(container, Container):
            return container.caption
    return None


def _error_response(exc: errors.GraphError, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _authenticate(state: FakeState, request: Request, params: dict[str, Any],
                  tokens: str) -> Token:
    value = params.pop("access_token", None)
    if not value:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() in ("bearer", "oauth"):
            value = credentials.strip()
    if not value:
        raise errors.missing_token()
    token = state.token(tokens, str(value))
    if token is None:
        raise errors.invalid_token()
    if token.revoked_subcode is not None:
        raise errors.revoked_token(token.revoked_subcode)
    now = state.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise errors.expired_token(token.expires_at, now)
    return token


def _resolve(
    state: FakeState, method: str, object_id: str, token: Token, host: GraphHost
) -> tuple[Account | GraphNode | None, str, str]:
    """The object called, its kind and platform; checks the token may use it."""
    if object_id == "me":
        return None, "me", host.me
    with state.lock:
        account = state.data.accounts.get(object_id)
        node: Account | GraphNode | None = (
            account if account is not None and account.platform in host.platforms
            else state.data.nodes.get(object_id)
        )
        owner = state.data.accounts.get(node.account_id) if node is not None else None
    # An object of another host's accounts does not exist on this one.
    if node is None or owner is None or owner.platform not in host.platforms:
        raise errors.unsupported(method, object_id)
    platform = owner.platform
    if node.account_id not in token.accounts:
        if platform in INSTAGRAMS:
            raise errors.permission_denied(10, "Application does not have permission for "
                                               "this action")
        raise errors.permission_denied(200, "Permissions error")
    return node, node.node_kind, platform


def _app_usage(state: FakeState) -> str:
    percent = state.config.app_usage_percent
    usage = {"call_count": percent, "total_cputime": percent, "total_time": percent}
    return json.dumps(usage, separators=_COMPACT)


def _buc_usage(account: Account) -> str:
    percent = account.usage_percent
    # The header names Instagram's use case after the platform, and Pages' "pages".
    kind = INSTAGRAM if account.platform in INSTAGRAMS else "pages"
    usage = {account.id: [{
        "type": kind, "call_count": percent, "total_cputime": percent, "total_time": percent,
        "estimated_time_to_regain_access": account.regain_minutes,
    }]}
    return json.dumps(usage, separators=_COMPACT)
