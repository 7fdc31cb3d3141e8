"""LinkedIn OAuth 2.0 (3-legged) and what a connect flow reads next: the authorization
dialog and /oauth/v2/accessToken (www.linkedin.com), OpenID Connect /v2/userinfo, and
/rest/organizationAcls and /rest/organizations/{id} (api.linkedin.com).

Lifetimes [LI-TOK]: access tokens 60 days; programmatic refresh tokens 365 days, and a
refresh does not reset that TTL: refresh_token_expires_in counts down from the first
authorization, and no access token outlives its refresh token ✅. Choices where LinkedIn is
silent (❓): a refresh keeps answering the same refresh token; earlier access tokens keep
working until their own expiry; what a token may post as is fixed when it is issued, from
the scopes (w_member_social, w_organization_social) and the member's roles at that time.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from herald.platforms.fake.calls import (
    BadRequestBody,
    CallInfo,
    as_text,
    pause,
    read_params,
    run_call,
)
from herald.platforms.fake.faults import FaultRule
from herald.platforms.fake.models import LINKEDIN, OAuthApp, Token
from herald.platforms.fake.oauth import (
    CodeProblem,
    Consent,
    ConsentError,
    Dialog,
    dialog_routes,
    new_secret,
    redeem_code,
    split_scope,
)
from herald.platforms.fake.state import FakeState
from herald.platforms.linkedin.fake.api import LiCall, error, fault_error, forbidden, li_route
from herald.platforms.linkedin.fake.models import LiMember, LiRole

#: ❓ LinkedIn documents codes as short-lived; 30 minutes is the figure usually quoted.
CODE_TTL = 1800.0
ACCESS_TTL = 5_184_000.0
REFRESH_TTL = 31_536_000.0
#: Roles that may post as the organization ✅ [LI-POSTS].
POSTING_ROLES = frozenset({"ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER", "CONTENT_ADMIN"})
ORG_READ_SCOPES = ("r_organization_admin", "rw_organization_admin")
_ORG_ID = re.compile(r"\d+")


# --- the authorization dialog ----------------------------------------------------------------


def _bare(uri: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _check(state: FakeState, params: Mapping[str, str]) -> Consent:
    app = state.oauth_app(LINKEDIN, params.get("client_id", ""))
    if app is None:
        raise ConsentError("invalid_client_id: The passed in client_id is invalid")
    redirect_uri = params.get("redirect_uri", "")
    # LinkedIn ignores query parameters when matching the registered redirect URLs.
    if not redirect_uri or _bare(redirect_uri) not in {_bare(u) for u in app.redirect_uris}:
        raise ConsentError("The redirect_uri does not match the registered value")
    if params.get("response_type") != "code":
        raise ConsentError("invalid_request: response_type must be code")
    scope = split_scope(params.get("scope"))
    if not scope:
        raise ConsentError("invalid_request: the scope parameter is required")
    member_id = state.logged_in(LINKEDIN)
    if member_id is None:
        raise ConsentError("No LinkedIn member is logged in to the fake: add one with "
                           "FakeState.add_linkedin_user() or POST /_fake/oauth/users.")
    kept = {k: params[k] for k in ("response_type", "client_id", "redirect_uri", "state",
                                   "scope") if k in params}
    return Consent(app, redirect_uri, params.get("state"), scope, member_id, kept)


def _describe(state: FakeState, consent: Consent) -> list[str]:
    member = state.linkedin_user(consent.user_id)
    assert member is not None
    lines = [f"Your profile: {member.name}" + (f" <{member.email}>" if member.email else "")]
    for role in member.roles:
        org = state.account(role.organization)
        lines.append(f"Organization: {org.name if org else role.organization} ({role.role})")
    return lines


DIALOG = Dialog(
    platform=LINKEDIN, title="Sign in with LinkedIn", path="/oauth/v2/authorization",
    code_ttl=CODE_TTL, check=_check, describe=_describe,
    denied={"error": "user_cancelled_authorize",
            "error_description": "The user cancelled the authorization"},  # ◐
)


# --- the token endpoint ----------------------------------------------------------------------


class OAuthError(Exception):
    """LinkedIn's OAuth error body: {"error", "error_description"}."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.error, "error_description": self.description},
                            status_code=self.status)


def _missing(name: str) -> OAuthError:
    return OAuthError(400, "invalid_request", f'A required parameter "{name}" is missing')


#: ◐ The one message LinkedIn gives for any bad code (unknown, used, expired, other app,
#: other redirect_uri). Note it is invalid_request, not RFC 6749's invalid_grant.
_BAD_CODE = ("Unable to retrieve access token: appid/redirect uri/code verifier does not "
             "match authorization code. Or authorization code expired. Or external member "
             "binding exists")


def _grant(state: FakeState, params: dict[str, Any]) -> dict[str, Any]:
    grant = as_text(params.get("grant_type"))
    if not grant:
        raise _missing("grant_type")
    required = {"authorization_code": ("code", "redirect_uri"),
                "refresh_token": ("refresh_token",)}.get(grant)
    if required is None:
        raise OAuthError(400, "unsupported_grant_type", f"Grant type {grant!r} is not supported")
    for name in ("client_id", "client_secret", *required):
        if not as_text(params.get(name)):
            raise _missing(name)
    app = state.oauth_app(LINKEDIN, as_text(params["client_id"]))
    if app is None or not hmac.compare_digest(as_text(params["client_secret"]),
                                              app.client_secret):
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    if grant == "refresh_token":
        return _refresh(state, app, as_text(params["refresh_token"]))
    try:
        code = redeem_code(state, LINKEDIN, app.client_id, as_text(params["code"]),
                           as_text(params["redirect_uri"]))
    except CodeProblem:
        raise OAuthError(400, "invalid_request", _BAD_CODE) from None
    member = state.linkedin_user(code.user_id)
    assert member is not None
    access = _access_token(state, app, member, code.scope, ACCESS_TTL)
    body: dict[str, Any] = {"access_token": access.value, "expires_in": int(ACCESS_TTL)}
    if app.refresh_tokens:
        refresh = state.store_token(Token(
            value=new_secret("AQX"), api="linkedin", kind="refresh", user_id=member.id,
            client_id=app.client_id, scope=code.scope, expires_at=state.now() + REFRESH_TTL,
        ))
        body.update(refresh_token=refresh.value, refresh_token_expires_in=int(REFRESH_TTL))
    body.update(scope=_scope_text(code.scope), token_type="Bearer")
    return body


def _refresh(state: FakeState, app: OAuthApp, value: str) -> dict[str, Any]:
    now = state.now()
    with state.lock:
        record = state.data.li_refresh_tokens.get(value)
    if (record is None or record.client_id != app.client_id
            or record.revoked_subcode is not None
            or (record.expires_at is not None and record.expires_at <= now)):
        # ❓ RFC 6749's wording; invalid_grant / 400 is what clients see.
        raise OAuthError(400, "invalid_grant", "The provided authorization grant or refresh "
                                               "token is invalid, expired or revoked")
    assert record.user_id is not None and record.expires_at is not None
    member = state.linkedin_user(record.user_id)
    assert member is not None
    scope = record.scope or frozenset()
    remaining = record.expires_at - now
    ttl = min(ACCESS_TTL, remaining)
    access = _access_token(state, app, member, scope, ttl)
    body: dict[str, Any] = {"access_token": access.value, "expires_in": round(ttl)}
    if not state.config.li_refresh_omits_token:
        body.update(refresh_token=record.value, refresh_token_expires_in=round(remaining))
    body.update(scope=_scope_text(scope), token_type="Bearer")
    return body


def _access_token(state: FakeState, app: OAuthApp, member: LiMember, scope: frozenset[str],
                  ttl: float) -> Token:
    grants: set[str] = set()
    if "w_member_social" in scope:
        grants.add(member.urn)
    if "w_organization_social" in scope:
        grants.update(r.organization for r in member.roles
                      if r.state == "APPROVED" and r.role in POSTING_ROLES)
    return state.store_token(Token(
        value=new_secret("AQV"), api="linkedin", accounts=grants,
        expires_at=state.now() + ttl, kind="member", user_id=member.id,
        client_id=app.client_id, scope=scope,
    ))


def _scope_text(scope: frozenset[str]) -> str:
    # ◐ LinkedIn answers scopes comma-separated, whatever separator was sent.
    return ",".join(sorted(scope))


# --- what a member token reads -----------------------------------------------------------------


def _member(call: LiCall) -> LiMember | None:
    """The member behind a token; tokens registered directly stand for the member account
    (and the organizations) they were registered for."""
    token = call.token
    if token.user_id is not None:
        return call.state.linkedin_user(token.user_id)
    person = next((a for a in sorted(token.accounts) if a.startswith("urn:li:person:")), None)
    if person is None:
        return None
    account = call.state.account(person)
    orgs = sorted(a for a in token.accounts if a.startswith("urn:li:organization:"))
    return LiMember(person.removeprefix("urn:li:person:"), account.name if account else person,
                    roles=[LiRole(org) for org in orgs])


async def userinfo(call: LiCall) -> Response:
    token = call.token
    member = _member(call)
    if member is None or not token.allows("openid"):
        # ◐ The body clients report for a token without the openid scope.
        raise error(403, "Not enough permissions to access: userinfo.GET.NO_VERSION",
                    service_code=100, code="ACCESS_DENIED")
    body: dict[str, Any] = {"sub": member.id}
    if token.allows("profile"):
        body.update(name=member.name, given_name=member.given_name,
                    family_name=member.family_name,
                    locale={"country": "US", "language": "en"})
    if member.email and token.allows("email"):
        body.update(email=member.email, email_verified=True)
    return JSONResponse(body)


async def organization_acls(call: LiCall) -> Response:
    query = call.request.query_params
    if query.get("q") != "roleAssignee":
        raise error(400, "The fake supports the roleAssignee finder only (q=roleAssignee)",
                    code="ILLEGAL_ARGUMENT")
    # ✅ The roleAssignee finder needs r_organization_admin or rw_organization_admin.
    if not call.token.allows(*ORG_READ_SCOPES):
        raise forbidden("organizationAcls.FINDER-roleAssignee", call.version)
    member = _member(call)
    assignee, roles = (member.urn, member.roles) if member else ("", [])
    roles = [r for r in roles
             if query.get("role") in (None, r.role) and query.get("state") in (None, r.state)]
    try:
        start = max(0, int(query.get("start", 0)))
        count = max(1, int(query.get("count", 10)))
    except ValueError:
        raise error(400, "start and count must be integers", code="PARAM_INVALID") from None
    elements = [{"roleAssignee": assignee, "state": r.state, "role": r.role,
                 "organization": r.organization} for r in roles[start:start + count]]
    return JSONResponse({"paging": {"start": start, "count": count, "links": [],
                                    "total": len(roles)},
                         "elements": elements})


async def get_organization(call: LiCall) -> Response:
    org_id = call.request.path_params["org_id"]
    if not _ORG_ID.fullmatch(org_id):
        raise error(400, f"Invalid organization id {org_id!r}: a number is expected",
                    code="PARAM_INVALID")
    account = call.state.account(f"urn:li:organization:{org_id}")
    if account is None:
        raise error(404, f"Organization {org_id} not found", code="NOT_FOUND")
    name = account.name
    return JSONResponse({
        "id": int(org_id), "localizedName": name,
        "vanityName": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
        "name": {"localized": {"en_US": name},
                 "preferredLocale": {"country": "US", "language": "en"}},
    })


# --- routes --------------------------------------------------------------------------------------


def linkedin_oauth_routes(state: FakeState) -> list[BaseRoute]:
    """The OAuth and identity routes, for the /linkedin mount."""

    async def access_token(request: Request) -> Response:
        await pause(state)
        info = CallInfo(platform=LINKEDIN, endpoint="oauth", name="oauth/v2/accessToken")
        try:
            # The form body, or the query string, as LinkedIn also accepts.
            params, _ = await read_params(request)
        except BadRequestBody as exc:
            return OAuthError(400, "invalid_request", str(exc)).response()

        async def handle() -> Response:
            try:
                return JSONResponse(_grant(state, params))
            except OAuthError as exc:
                info.error = exc.error
                return exc.response()

        def refuse(rule: FaultRule) -> Response:
            exc = fault_error(rule)
            info.error = exc.label
            return exc.response()

        return await run_call(state, info, handle, refuse)

    async def introspect(request: Request) -> Response:
        await pause(state)
        try:
            params, _ = await read_params(request)
            return JSONResponse(_introspect(state, params))
        except BadRequestBody as exc:
            return OAuthError(400, "invalid_request", str(exc)).response()
        except OAuthError as exc:
            return exc.response()

    return [
        *dialog_routes(state, DIALOG, [DIALOG.path]),
        Route("/oauth/v2/accessToken", access_token, methods=["POST"]),
        Route("/oauth/v2/introspectToken", introspect, methods=["POST"]),
        li_route(state, "/v2/userinfo", userinfo, methods=["GET"], endpoint="read",
                 name="v2/userinfo", rest=False),
        li_route(state, "/rest/organizationAcls", organization_acls, methods=["GET"],
                 endpoint="read", name="rest/organizationAcls"),
        li_route(state, "/rest/organizations/{org_id}", get_organization, methods=["GET"],
                 endpoint="read", name="rest/organizations.get"),
    ]


def add_user(state: FakeState, user_id: str, name: str, body: dict[str, Any]) -> None:
    """A LinkedIn member and their organizations, from POST /_fake/oauth/users."""
    orgs = [_organization(org) for org in body.pop("organizations", [])]
    state.add_linkedin_user(user_id, name, organizations=orgs, **body)


def _organization(raw: list[Any]) -> tuple[str, str] | tuple[str, str, str]:
    values = [str(v) for v in raw]
    if len(values) == 2:
        return values[0], values[1]
    if len(values) == 3:
        return values[0], values[1], values[2]
    raise ValueError("an organization is [id, name] or [id, name, role]")


# --- token introspection -------------------------------------------------------------------------

#: ◐ The scopes a token registered directly (none recorded) is shown with.
ALL_SCOPES = "openid,profile,w_member_social,w_organization_social,r_organization_admin"


def _introspect(state: FakeState, params: dict[str, Any]) -> dict[str, Any]:
    """POST /oauth/v2/introspectToken (client_id, client_secret, token) [LI-TOK]."""
    app = state.oauth_app(LINKEDIN, as_text(params.get("client_id")))
    if app is None or not hmac.compare_digest(as_text(params.get("client_secret")),
                                              app.client_secret):
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    value = as_text(params.get("token"))
    if not value:
        raise _missing("token")
    token = state.token("linkedin", value)
    if token is None or (token.client_id not in (None, app.client_id)):
        return {"active": False}
    if token.revoked_subcode is not None:
        return {"active": False, "status": "revoked"}
    if token.expires_at is not None and token.expires_at <= state.now():
        return {"active": False, "status": "expired"}
    body: dict[str, Any] = {
        "active": True, "status": "active", "client_id": app.client_id,
        "scope": ",".join(sorted(token.scope)) if token.scope is not None else ALL_SCOPES}
    if token.expires_at is not None:
        body["expires_at"] = int(token.expires_at)
    return body
