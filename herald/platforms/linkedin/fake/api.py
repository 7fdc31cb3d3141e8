"""What every fake LinkedIn call goes through: version and protocol headers, the token,
injected faults, and LinkedIn's error bodies."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from herald.platforms.fake.calls import CallInfo, fake_root_url, mount_url, pause, run_call
from herald.platforms.fake.faults import FaultRule
from herald.platforms.fake.models import LINKEDIN, Token
from herald.platforms.fake.state import FakeState

#: Where create_fake_app mounts LinkedIn; HERALD_LINKEDIN_API_URL = <fake>/linkedin.
LINKEDIN_MOUNT = "/linkedin"
#: Path of the upload URLs the fake hands out (www.linkedin.com/dms-uploads/… for real).
UPLOADS = "/dms-uploads"


_SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway",
                  503: "Service Unavailable", 504: "Gateway Timeout"}


class LinkedInError(Exception):
    """A LinkedIn error response: an HTTP status and LinkedIn's JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body

    @property
    def label(self) -> str:
        detail = self.body.get("serviceErrorCode") or self.body.get("code")
        return f"{self.status}/{detail}" if detail else str(self.status)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def error(status: int, message: str, *, service_code: int | None = None,
          code: str | None = None) -> LinkedInError:
    body: dict[str, Any] = {"status": status}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    if code is not None:
        body["code"] = code
    body["message"] = message
    return LinkedInError(status, body)


def input_error(code: str, description: str, field: str | None = None,
                message: str | None = None) -> LinkedInError:
    """A 422 validation error in the shape seen in the wild ◐ [Arisamiga/Linkedin-RSS#5]."""
    path = {"inputPath": {"fieldPath": field}} if field else {}
    return LinkedInError(422, {
        "errorDetailType": "com.linkedin.common.error.BadRequest",
        "message": message or description,
        "errorDetails": {"inputErrors": [{"description": description, "input": path,
                                          "code": code}]},
        "status": 422,
    })


def not_found(what: str) -> LinkedInError:
    return error(404, f"Not Found: {what}", code="NOT_FOUND")


def forbidden(resource: str, version: str) -> LinkedInError:
    return error(403, f"Not enough permissions to access: {resource}.{version}01",
                 service_code=100, code="ACCESS_DENIED")


def throttled(scope: str = "APPLICATION") -> LinkedInError:
    """LinkedIn's 429 ◐; `scope` is APPLICATION (the body seen in the wild) or MEMBER."""
    return error(429, f"Resource level throttle {scope} DAY limit for calls to this resource "
                      "is reached.", service_code=101)


@dataclass
class LiCall:
    """One authenticated LinkedIn request, as handlers see it."""

    state: FakeState
    request: Request
    token: Token
    body: dict[str, Any]
    info: CallInfo

    @property
    def version(self) -> str:
        return self.request.headers.get("linkedin-version", "").split(".")[0]

    def linkedin_base(self) -> str:
        return mount_url(self.request)

    def fake_root(self) -> str:
        return fake_root_url(self.request, LINKEDIN_MOUNT)

    def upload_url(self, asset_id: str, *suffix: str) -> str:
        return "/".join([f"{self.linkedin_base()}{UPLOADS}", asset_id, *suffix])

    def may_act_as(self, urn: str) -> bool:
        return urn in self.token.accounts


LiHandler = Callable[[LiCall], Awaitable[Response]]


def li_route(
    state: FakeState, path: str, handler: LiHandler, *, methods: list[str], endpoint: str,
    name: str, rest: bool = True,
) -> Route:
    """A route running `handler` behind LinkedIn's checks; upload URLs skip the /rest ones."""

    async def run(request: Request) -> Response:
        await pause(state)
        try:
            if rest:
                _check_version(state, request)
            token = _authenticate(state, request)
            if rest:
                _check_protocol(request)
                _check_encoded_urn(request)
            body = await _json_body(request) if rest and request.method == "POST" else {}
        except LinkedInError as exc:
            return exc.response()
        info = CallInfo(platform=LINKEDIN, endpoint=endpoint, name=name)
        # Known up front so the commit log names faulted posts too.
        if isinstance(body.get("author"), str):
            info.account = body["author"]
        if isinstance(body.get("commentary"), str):
            info.caption = body["commentary"]
        call = LiCall(state, request, token, body, info)

        async def handle() -> Response:
            try:
                return await handler(call)
            except LinkedInError as exc:
                info.error = exc.label
                return exc.response()

        def refuse(rule: FaultRule) -> Response:
            exc = fault_error(rule)
            info.error = exc.label
            return exc.response()

        return await run_call(state, info, handle, refuse)

    return Route(path, run, methods=methods, name=name)


def fault_error(rule: FaultRule) -> LinkedInError:
    """The LinkedIn error an injected error/throttle fault answers with."""
    if rule.kind == "throttle":
        return throttled()
    status = rule.status or 500
    return error(status, _SERVER_ERRORS.get(status, "Internal Server Error"))


def _check_version(state: FakeState, request: Request) -> None:
    raw = request.headers.get("linkedin-version")
    if not raw:
        raise error(400, "A version must be present. Please specify a version by adding the "
                         "LinkedIn-Version header.", code="VERSION_MISSING")
    # Versions are YYYYMM, optionally with a .RR revision; LinkedIn reports them as YYYYMMDD.
    base = raw.strip().split(".")[0]
    if base not in state.config.li_active_versions:
        shown = f"{base}01" if len(base) == 6 and base.isdigit() else raw
        raise error(426, f"Requested version {shown} is not active", code="NONEXISTENT_VERSION")


def _check_protocol(request: Request) -> None:
    # Unconfirmed ❓: without the header LinkedIn falls back to Rest.li 1.0 encoding, which
    # breaks URN-keyed calls in odd ways; the fake refuses outright so clients always send it.
    if request.headers.get("x-restli-protocol-version") != "2.0.0":
        raise error(400, "X-Restli-Protocol-Version: 2.0.0 is required",
                    code="INVALID_PROTOCOL_VERSION")


def _check_encoded_urn(request: Request) -> None:
    # Rest.li 2.0 wants URNs in paths percent-encoded (urn%3Ali%3Ashare%3A1). Starlette
    # decodes the path before routing, so look at the raw bytes (when the server gives them).
    raw_path = request.scope.get("raw_path")
    if "urn" in request.path_params and raw_path is not None and b"urn:li:" in raw_path:
        raise error(400, "Invalid URN in the path: URNs must be percent-encoded",
                    code="PARAM_INVALID")


def _authenticate(state: FakeState, request: Request) -> Token:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise error(401, "Empty oauth2 access token", service_code=65604,
                    code="EMPTY_ACCESS_TOKEN")
    token = state.token("linkedin", value)
    if token is None:
        raise error(401, "Invalid access token", service_code=65600)
    if token.revoked_subcode is not None:
        raise error(401, "The token used in the request has been revoked by the user",
                    service_code=65601, code="REVOKED_ACCESS_TOKEN")
    if token.expires_at is not None and token.expires_at <= state.now():
        # ❓ 65602 / EXPIRED_ACCESS_TOKEN is what other tools report; not seen verbatim.
        raise error(401, "The token used in the request has expired", service_code=65602,
                    code="EXPIRED_ACCESS_TOKEN")
    return token


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise error(400, "Unable to parse the request body as JSON") from None
    if not isinstance(data, dict):
        raise error(400, "The request body must be a JSON object")
    return data


def millis(ts: float) -> int:
    return int(ts * 1000)
