"""Facebook Login: the dialog (www.facebook.com/vNN.0/dialog/oauth), the token endpoint
(graph.facebook.com/vNN.0/oauth/access_token) and the Page tokens user tokens yield.

Lifetimes [FB-TOK]: the code exchange gives a short-lived user token (about an hour),
fb_exchange_token a long-lived one (about 60 days), and there is no refresh token. A Page
token from /me/accounts never expires when derived from a long-lived user token ◐ and lasts
an hour from a short-lived one ✅. The same Page token stands for the Instagram account
linked to the Page, as with Facebook Login for real.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from herald.platforms.fake.calls import (
    BadRequestBody,
    CallInfo,
    as_text,
    pause,
    read_params,
    run_call,
)
from herald.platforms.fake.faults import FaultRule
from herald.platforms.fake.models import FACEBOOK, INSTAGRAM, OAuthApp, Token
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
from herald.platforms.graph import fake_errors as errors
from herald.platforms.graph.fake import GRAPH_VERSION, fault_error

#: Where create_fake_app mounts the dialog: <fake>/facebook/dialog/oauth (or /vNN.0/dialog/…).
FACEBOOK_MOUNT = "/facebook"
#: ❓ Meta says codes are short-lived; "about ten minutes" is what clients observe.
CODE_TTL = 600.0
SHORT_TTL = 3600.0
#: ✅ The expires_in of Meta's own long-lived token example (60 days less a minute).
LONG_TTL = 5_183_944.0
PAGE_SHORT_TTL = 3600.0


# --- the dialog ------------------------------------------------------------------------------


def _check(state: FakeState, params: Mapping[str, str]) -> Consent:
    app = state.oauth_app(FACEBOOK, params.get("client_id", ""))
    if app is None:
        raise ConsentError("Invalid App ID: The provided app ID does not look like a valid "
                           "app ID.")
    redirect_uri = params.get("redirect_uri", "")
    # Strict mode (Meta's default since 2018): the URI must be registered exactly, query
    # string included.
    if redirect_uri not in app.redirect_uris:
        raise ConsentError("URL blocked: This redirect failed because the redirect URI is not "
                           "whitelisted in the app's Client OAuth Settings. Make sure that the "
                           "client and web OAuth logins are on and add all your app domains "
                           "as Valid OAuth Redirect URIs.")
    if params.get("response_type", "code") != "code":
        raise ConsentError("The fake supports the code flow only (response_type=code).")
    user_id = state.logged_in(FACEBOOK)
    if user_id is None:
        raise ConsentError("No Facebook user is logged in to the fake: add one with "
                           "FakeState.add_facebook_user() or POST /_fake/oauth/users.")
    kept = {k: params[k] for k in ("client_id", "redirect_uri", "state", "scope",
                                   "response_type") if k in params}
    return Consent(app, redirect_uri, params.get("state"), split_scope(params.get("scope")),
                   user_id, kept)


def _describe(state: FakeState, consent: Consent) -> list[str]:
    with state.lock:
        user = state.data.fb_users[consent.user_id]
        lines = [f"Your name and profile picture: {user.name}"]
        for page_id in user.page_ids:
            page = state.data.accounts.get(page_id)
            line = f"Page: {page.name if page else page_id}"
            for ig_user_id in linked_instagram(state, page_id):
                ig = state.data.accounts[ig_user_id]
                line += f" (Instagram @{ig.username})"
            lines.append(line)
    return lines


DIALOG = Dialog(
    platform=FACEBOOK, title="Log in with Facebook", path="/dialog/oauth", code_ttl=CODE_TTL,
    check=_check, describe=_describe,
    # ✅ What the manual-flow guide shows for "Cancel"; error_code=200 as seen in the wild ◐.
    denied={"error": "access_denied", "error_code": "200",
            "error_description": "Permissions error", "error_reason": "user_denied"},
    # ◐ Facebook appends "#_=_" to the redirect; browsers keep it, servers never see it.
    fragment="_=_",
)


def facebook_routes(state: FakeState) -> list[Route]:
    """The dialog, for the /facebook mount."""
    return dialog_routes(state, DIALOG, ["/dialog/oauth", "/{version}/dialog/oauth"])


# --- the token endpoint ----------------------------------------------------------------------


def graph_oauth_routes(state: FakeState) -> list[Route]:
    """GET|POST /oauth/access_token, for the /graph mount (ahead of the generic routes)."""

    async def access_token(request: Request) -> Response:
        await pause(state)
        info = CallInfo(platform=FACEBOOK, endpoint="oauth", name="oauth/access_token")
        try:
            version = request.path_params.get("version")
            if version is not None and not GRAPH_VERSION.fullmatch(version):
                raise errors.unknown_path(request.url.path)
            try:
                params, _ = await read_params(request)
            except BadRequestBody as exc:
                raise errors.invalid_param(str(exc)) from None
        except errors.GraphError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)

        async def handle() -> Response:
            try:
                return JSONResponse(_exchange(state, params))
            except errors.GraphError as exc:
                info.error = exc.label
                return JSONResponse(exc.body(), status_code=exc.status)

        def refuse(rule: FaultRule) -> Response:
            exc = fault_error(rule)
            info.error = exc.label
            return JSONResponse(exc.body(), status_code=exc.status)

        return await run_call(state, info, handle, refuse)

    async def debug_token(request: Request) -> Response:
        await pause(state)
        info = CallInfo(platform=FACEBOOK, endpoint="read", name="debug_token")
        try:
            if not GRAPH_VERSION.fullmatch(request.path_params["version"]):
                raise errors.unknown_path(request.url.path)
            body = _debug(state, dict(request.query_params))
        except errors.GraphError as exc:
            info.error = exc.label
            return JSONResponse(exc.body(), status_code=exc.status)
        return await run_call(state, info, _answer(body), _refused(info))

    methods = ["GET", "POST"]
    return [Route("/oauth/access_token", access_token, methods=methods),
            Route("/{version}/oauth/access_token", access_token, methods=methods),
            Route("/{version}/debug_token", debug_token, methods=["GET"])]


def _answer(body: dict[str, Any]) -> Callable[[], Awaitable[Response]]:
    async def handle() -> Response:
        return JSONResponse(body)
    return handle


def _refused(info: CallInfo) -> Callable[[FaultRule], Response]:
    def refuse(rule: FaultRule) -> Response:
        exc = fault_error(rule)
        info.error = exc.label
        return JSONResponse(exc.body(), status_code=exc.status)
    return refuse


# --- debug_token --------------------------------------------------------------------------------

#: ◐ What a token registered directly (no scopes recorded) is shown as granted.
ALL_SCOPES = ("business_management", "instagram_basic", "instagram_content_publish",
              "pages_manage_posts", "pages_read_engagement", "pages_show_list",
              "publish_video")


def _debug(state: FakeState, params: dict[str, str]) -> dict[str, Any]:
    """GET /debug_token: `access_token` is an app token (id|secret) or a valid token."""
    caller = params.get("access_token", "")
    if not caller:
        raise errors.missing_token()
    if "|" in caller:
        app_id, _, secret = caller.partition("|")
        app = state.oauth_app(FACEBOOK, app_id)
        if app is None or not hmac.compare_digest(secret, app.client_secret):
            raise errors.GraphError(190, "Invalid OAuth access token signature.")
    else:
        _usable(state, state.token("graph", caller))
    value = params.get("input_token", "")
    if not value:
        raise errors.invalid_param("The parameter input_token is required")
    token = state.token("graph", value)
    try:
        _usable(state, token)
    except errors.GraphError as exc:
        error = {"code": exc.code, "message": exc.message, "subcode": exc.subcode}
        return {"data": {"is_valid": False, "error": error, "scopes": []}}
    assert token is not None
    scopes = sorted(token.scope) if token.scope is not None else list(ALL_SCOPES)
    return {"data": {
        "app_id": token.client_id or "fake-app", "application": "Herald fake",
        "type": "USER" if token.kind == "user" else "PAGE", "is_valid": True,
        "expires_at": int(token.expires_at) if token.expires_at is not None else 0,
        "scopes": scopes, "user_id": token.user_id or ""}}


def _usable(state: FakeState, token: Token | None) -> None:
    if token is None:
        raise errors.invalid_token()
    if token.revoked_subcode is not None:
        raise errors.revoked_token(token.revoked_subcode)
    now = state.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise errors.expired_token(token.expires_at, now)


def _exchange(state: FakeState, params: dict[str, Any]) -> dict[str, Any]:
    app = _client(state, params)
    grant = as_text(params.get("grant_type")) or "authorization_code"
    if grant == "fb_exchange_token":
        return _long_lived(state, app, as_text(params.get("fb_exchange_token")))
    if grant != "authorization_code":
        raise errors.GraphError(100, f"Invalid grant_type: '{grant}'. Supported types: "
                                     "authorization_code, fb_exchange_token")
    value = as_text(params.get("code"))
    if not value:
        raise errors.invalid_param("The parameter code is required")
    redirect_uri = as_text(params.get("redirect_uri")) or None
    try:
        code = redeem_code(state, FACEBOOK, app.client_id, value, redirect_uri)
    except CodeProblem as problem:
        raise _code_error(problem.reason) from None
    with state.lock:
        grants = _grants(state, code.user_id)
    token = _issue(state, app, code.user_id, code.scope, grants, long_lived=False)
    return _token_body(token, SHORT_TTL)


def _client(state: FakeState, params: dict[str, Any]) -> OAuthApp:
    client_id = as_text(params.get("client_id"))
    if not client_id:
        raise errors.GraphError(101, "Missing client_id parameter.")
    app = state.oauth_app(FACEBOOK, client_id)
    if app is None:
        raise errors.GraphError(101, "Error validating application. Invalid application ID.")
    if not hmac.compare_digest(as_text(params.get("client_secret")), app.client_secret):
        # ◐ Code 1 is "unknown error, retry" elsewhere; here it is permanent, and
        # is_transient (false) is what tells the two apart.
        raise errors.GraphError(1, "Error validating client secret.")
    return app


def _code_error(reason: str) -> errors.GraphError:
    # ◐ Messages as Facebook SDK users report them; the 3600x subcodes are ❓ beyond 36008.
    if reason == "used":
        return errors.GraphError(100, "This authorization code has been used.", subcode=36009)
    if reason == "expired":
        return errors.GraphError(100, "This authorization code has expired.", subcode=36007)
    if reason == "redirect_mismatch":
        return errors.GraphError(100, "Error validating verification code. Please make sure "
                                      "your redirect_uri is identical to the one you used in "
                                      "the OAuth dialog request", subcode=36008)
    return errors.GraphError(100, "Invalid verification code format.")


def _long_lived(state: FakeState, app: OAuthApp, value: str) -> dict[str, Any]:
    if not value:
        raise errors.invalid_param("The parameter fb_exchange_token is required")
    token = state.token("graph", value)
    # Only user tokens of this app exchange; anything else reads as an invalid token.
    if token is None or token.kind != "user" or token.client_id != app.client_id:
        raise errors.invalid_token()
    if token.revoked_subcode is not None:
        raise errors.revoked_token(token.revoked_subcode)
    now = state.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise errors.expired_token(token.expires_at, now)
    assert token.user_id is not None
    # The short-lived token stays valid until its own expiry.
    long_lived = _issue(state, app, token.user_id, token.scope or frozenset(),
                        set(token.accounts), long_lived=True)
    return _token_body(long_lived, LONG_TTL)


def _issue(state: FakeState, app: OAuthApp, user_id: str, scope: frozenset[str],
           accounts: set[str], *, long_lived: bool) -> Token:
    ttl = LONG_TTL if long_lived else SHORT_TTL
    return state.store_token(Token(
        value=new_secret("EAA"), api="graph", accounts=accounts,
        expires_at=state.now() + ttl, kind="user", user_id=user_id, client_id=app.client_id,
        scope=scope, long_lived=long_lived,
    ))


def _token_body(token: Token, ttl: float) -> dict[str, Any]:
    return {"access_token": token.value, "token_type": "bearer", "expires_in": int(ttl)}


# --- what a user token reaches ----------------------------------------------------------------


def linked_instagram(state: FakeState, page_id: str) -> list[str]:
    """Instagram accounts linked to a Page; the caller holds the state lock."""
    return [a.id for a in state.data.accounts.values()
            if a.platform == INSTAGRAM and a.page_id == page_id]


def _grants(state: FakeState, user_id: str) -> set[str]:
    """What a new user token may reach: the user's Pages as of consent (Facebook Login for
    Business grants the Pages picked then) and their Instagram accounts. Under the lock."""
    user = state.data.fb_users[user_id]
    grants = set(user.page_ids)
    for page_id in user.page_ids:
        grants.update(linked_instagram(state, page_id))
    return grants


def page_token(state: FakeState, user_token: Token, page_id: str) -> str:
    """The Page token `user_token` yields for `page_id`: the same one on every call, and
    registered so it can publish on the Page and its linked Instagram account."""
    with state.lock:
        key = (user_token.value, page_id)
        value = state.data.page_tokens.get(key)
        record = state.data.graph_tokens.get(value) if value else None
        if record is None:
            expires = (None if user_token.long_lived else
                       min(state.now() + PAGE_SHORT_TTL, user_token.expires_at or math.inf))
            record = Token(value=new_secret("EAA"), api="graph", expires_at=expires,
                           kind="page", user_id=user_token.user_id,
                           client_id=user_token.client_id, scope=user_token.scope)
            state.data.graph_tokens[record.value] = record
            state.data.page_tokens[key] = record.value
        # Read the links afresh: an Instagram account linked since then shows up.
        record.accounts = {page_id, *linked_instagram(state, page_id)}
        return record.value


def add_user(state: FakeState, user_id: str, name: str, body: dict[str, Any]) -> None:
    """A Facebook user and their Pages, from the admin API's POST /_fake/oauth/users."""
    pages = [(str(page), str(page_name), str(ig) if ig else None)
             for page, page_name, ig in body.pop("pages", [])]
    state.add_facebook_user(user_id, name, pages, **body)
