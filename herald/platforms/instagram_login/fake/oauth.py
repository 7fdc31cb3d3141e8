"""Instagram Login in the fake, on one mount standing for three hosts: the dialog
(www.instagram.com/oauth/authorize), the code exchange (api.instagram.com/oauth/
access_token) and graph.instagram.com's token endpoints (access_token, refresh_access_token);
the rest of graph.instagram.com is fake/routes.py on the same mount.

Lifetimes ✅[IG-TOK]: a code's short-lived token lasts an hour; the long-lived one 60 days
(expires_in 5,183,944 in Meta's example); a refresh needs a long-lived token at least 24
hours old and not expired, and gives one for another 60 days. The old token is left valid
until its own expiry ❓ (Meta does not say).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
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
from herald.platforms.fake.models import INSTAGRAM_LOGIN, Account, Token
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
from herald.platforms.graph.fake import fault_error

#: HERALD_INSTAGRAM_API_URL = <fake>/instagram; the dialog and code exchange live beside.
INSTAGRAM_MOUNT = "/instagram"
CODE_TTL = 600.0
SHORT_TTL = 3600.0
LONG_TTL = 5_183_944.0
#: ✅ A token younger than this cannot be refreshed.
REFRESH_MIN_AGE = 86_400.0
#: Where the fake keeps when each long-lived token was issued (state.data.platforms).
STORE = "instagram_login:issued"
#: ◐ What a token registered directly (no scopes recorded) stands for.
ALL_SCOPES = ("instagram_business_basic", "instagram_business_content_publish",
              "instagram_business_manage_comments")


# --- people and accounts ---------------------------------------------------------------------


def add_user(state: FakeState, user_id: str, name: str, body: dict[str, Any]) -> None:
    """An Instagram professional account that can sign in through the dialog (the first
    one added is the one signed in)."""
    with state.lock:
        state.data.accounts.setdefault(user_id, Account(
            INSTAGRAM_LOGIN, user_id, name,
            username=str(body.get("username") or f"fake_{user_id[-6:]}")))
        state.data.logged_in.setdefault(INSTAGRAM_LOGIN, user_id)


def add_account(state: FakeState, account_id: str, token: str, *, name: str | None = None,
                username: str | None = None, quota_total: int | None = None,
                token_expires_in: float | None = None, **_: Any) -> None:
    """An account reachable on graph.instagram.com with `token` (the sandbox's, tests')."""
    now = state.now()
    with state.lock:
        state.data.accounts.setdefault(account_id, Account(
            INSTAGRAM_LOGIN, account_id, name or f"Instagram {account_id}",
            username=username or f"fake_{account_id[-6:]}", quota_total=quota_total))
        tokens = state.data.api_tokens.setdefault(INSTAGRAM_LOGIN, {})
        record = tokens.setdefault(token, Token(value=token, api=INSTAGRAM_LOGIN,
                                                kind="long", long_lived=True))
        record.accounts.add(account_id)
        if token_expires_in is not None:
            record.expires_at = now + token_expires_in
        state.data.platforms.setdefault(STORE, {}).setdefault(token, now)


# --- the dialog --------------------------------------------------------------------------------


def _check(state: FakeState, params: Mapping[str, str]) -> Consent:
    app = state.oauth_app(INSTAGRAM_LOGIN, params.get("client_id", ""))
    if app is None:
        raise ConsentError("Invalid request: Invalid platform app")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        raise ConsentError("Invalid redirect_uri: the redirect URI does not match the one "
                           "registered for the app.")
    if params.get("response_type", "code") != "code":
        raise ConsentError("Only response_type=code is supported.")
    user_id = state.logged_in(INSTAGRAM_LOGIN)
    if user_id is None:
        raise ConsentError("No Instagram account is signed in to the fake: add one with "
                           "POST /_fake/oauth/users (platform instagram_login).")
    kept = {k: params[k] for k in ("client_id", "redirect_uri", "state", "scope",
                                   "response_type") if k in params}
    return Consent(app, redirect_uri, params.get("state"), split_scope(params.get("scope")),
                   user_id, kept)


def _describe(state: FakeState, consent: Consent) -> list[str]:
    account = state.account(consent.user_id)
    return [f"Your Instagram professional account @{account.username if account else '?'}"]


DIALOG = Dialog(
    platform=INSTAGRAM_LOGIN, title="Log in with Instagram", path="/oauth/authorize",
    code_ttl=CODE_TTL, check=_check, describe=_describe,
    # ✅ Instagram's documented denial.
    denied={"error": "access_denied", "error_reason": "user_denied",
            "error_description": "The user denied your request."},
    # ✅ Instagram appends "#_" to the redirect; servers never see it.
    fragment="_",
)


# --- the token endpoints ---------------------------------------------------------------------


def oauth_routes(state: FakeState) -> list[Route]:
    """The dialog, the code exchange and the token endpoints, ahead of the Graph routes."""

    def endpoint(name: str, answer: Any, methods: list[str]) -> Route:
        async def handle_request(request: Request) -> Response:
            await pause(state)
            info = CallInfo(platform=INSTAGRAM_LOGIN, endpoint="oauth", name=name)
            try:
                params, _ = await read_params(request)
            except BadRequestBody as exc:
                return JSONResponse(errors.invalid_param(str(exc)).body(), status_code=400)

            async def handle() -> Response:
                try:
                    return JSONResponse(answer(state, params))
                except errors.GraphError as exc:
                    info.error = exc.label
                    return JSONResponse(exc.body(), status_code=exc.status)
                except _OAuthRefusal as exc:
                    info.error = "oauth"
                    return JSONResponse(exc.body(), status_code=400)

            def refuse(rule: FaultRule) -> Response:
                exc = fault_error(rule)
                info.error = exc.label
                return JSONResponse(exc.body(), status_code=exc.status)

            return await run_call(state, info, handle, refuse)

        return Route(f"/{name}", handle_request, methods=methods)

    return [
        *dialog_routes(state, DIALOG, ["/oauth/authorize"]),
        endpoint("oauth/access_token", _redeem, ["POST"]),
        endpoint("access_token", _exchange, ["GET"]),
        endpoint("refresh_access_token", _refresh, ["GET"]),
    ]


class _OAuthRefusal(Exception):
    """api.instagram.com's own error shape ✅: error_type, code, error_message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error_type": "OAuthException", "code": 400, "error_message": self.message}


def _redeem(state: FakeState, params: dict[str, Any]) -> dict[str, Any]:
    """POST api.instagram.com/oauth/access_token: a code for a short-lived token."""
    client_id = as_text(params.get("client_id"))
    app = state.oauth_app(INSTAGRAM_LOGIN, client_id)
    if app is None:
        raise _OAuthRefusal("Invalid platform app")
    if not hmac.compare_digest(as_text(params.get("client_secret")), app.client_secret):
        raise _OAuthRefusal("Error validating client secret.")
    if as_text(params.get("grant_type")) != "authorization_code":
        raise _OAuthRefusal("Unsupported grant_type")
    try:
        code = redeem_code(state, INSTAGRAM_LOGIN, client_id, as_text(params.get("code")),
                           as_text(params.get("redirect_uri")) or None)
    except CodeProblem as problem:
        raise _OAuthRefusal("Error validating verification code. Please make sure your "
                            "redirect_uri is identical to the one you used in the OAuth "
                            "dialog request" if problem.reason == "redirect_mismatch"
                            else "This authorization code has been used"
                            if problem.reason == "used"
                            else "Invalid authorization code") from None
    token = state.store_token(Token(
        value=new_secret("IGQ"), api=INSTAGRAM_LOGIN, accounts={code.user_id},
        expires_at=state.now() + SHORT_TTL, kind="short", user_id=code.user_id,
        client_id=client_id, scope=code.scope))
    return {"data": [{"access_token": token.value, "user_id": code.user_id,
                      "permissions": ",".join(sorted(code.scope))}]}


def _usable(state: FakeState, value: str) -> Token:
    token = state.token(INSTAGRAM_LOGIN, value) if value else None
    if token is None:
        raise errors.invalid_token()
    if token.revoked_subcode is not None:
        raise errors.revoked_token(token.revoked_subcode)
    if token.expires_at is not None and token.expires_at <= state.now():
        raise errors.expired_token(token.expires_at, state.now())
    return token


def _long_lived(state: FakeState, old: Token) -> dict[str, Any]:
    token = state.store_token(Token(
        value=new_secret("IGAA"), api=INSTAGRAM_LOGIN, accounts=set(old.accounts),
        expires_at=state.now() + LONG_TTL, kind="long", user_id=old.user_id,
        client_id=old.client_id, scope=old.scope, long_lived=True))
    with state.lock:
        state.data.platforms.setdefault(STORE, {})[token.value] = state.now()
    return {"access_token": token.value, "token_type": "bearer", "expires_in": int(LONG_TTL)}


def _exchange(state: FakeState, params: dict[str, Any]) -> dict[str, Any]:
    """GET graph.instagram.com/access_token?grant_type=ig_exchange_token."""
    if as_text(params.get("grant_type")) != "ig_exchange_token":
        raise errors.invalid_param("grant_type must be ig_exchange_token")
    token = _usable(state, as_text(params.get("access_token")))
    app = state.oauth_app(INSTAGRAM_LOGIN, token.client_id or "")
    if app is None or not hmac.compare_digest(as_text(params.get("client_secret")),
                                              app.client_secret):
        raise errors.GraphError(101, "Error validating client secret.")
    if token.kind != "short":
        raise errors.invalid_param("Only a short-lived token can be exchanged.")
    return _long_lived(state, token)


def _refresh(state: FakeState, params: dict[str, Any]) -> dict[str, Any]:
    """GET graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token."""
    if as_text(params.get("grant_type")) != "ig_refresh_token":
        raise errors.invalid_param("grant_type must be ig_refresh_token")
    value = as_text(params.get("access_token"))
    token = _usable(state, value)
    if not token.long_lived:
        raise errors.invalid_param("Only a long-lived token can be refreshed.")
    with state.lock:
        issued = state.data.platforms.get(STORE, {}).get(value, state.now())
    if state.now() - issued < REFRESH_MIN_AGE:
        # ❓ Meta documents the 24-hour rule but not its error.
        raise errors.invalid_param("The access token must be at least 24 hours old to be "
                                   "refreshed.")
    return _long_lived(state, token)


__all__ = ["ALL_SCOPES", "INSTAGRAM_MOUNT", "add_account", "add_user", "oauth_routes"]
