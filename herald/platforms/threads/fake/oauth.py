"""The fake's Threads sign-in, as Meta documents it (developers.facebook.com/docs/threads/
get-started/get-access-tokens-and-permissions; long-lived-tokens):

- ``GET /oauth/authorize?client_id&redirect_uri&scope&response_type=code&state``: the
  consent dialog of the first person added (POST /_fake/oauth/users with "threads");
  a denial redirects with ``error=access_denied&error_reason=user_denied``;
- ``POST /oauth/access_token`` (form: client_id, client_secret, grant_type=
  authorization_code, redirect_uri, code): ``{"access_token", "user_id"}``, a short-lived
  token (one hour);
- ``GET /access_token?grant_type=th_exchange_token&client_secret&access_token``: a
  long-lived token, ``{"access_token", "token_type": "bearer", "expires_in": 5184000}``;
- ``GET /refresh_access_token?grant_type=th_refresh_token&access_token``: a renewed one.

Errors in the Graph envelope; the code is appended "#_" as Meta's redirect does.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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
from herald.platforms.threads import NAME
from herald.platforms.threads.fake import store as db

LONG_LIVED = 60 * 86400
SHORT_LIVED = 3600


def _check(state: FakeState, params: Mapping[str, str]) -> Consent:
    app = state.oauth_app(NAME, params.get("client_id", ""))
    if app is None:
        raise ConsentError("Invalid platform app: the client_id is not a Threads app.")
    redirect = params.get("redirect_uri", "")
    if redirect not in app.redirect_uris:
        raise ConsentError("Invalid redirect_uri: it is not one of the app's OAuth "
                           "redirect URIs.")
    if params.get("response_type", "code") != "code":
        raise ConsentError("Invalid response_type: only code is supported.")
    with state.lock:
        users = list(db.store(state).users)
    if not users:
        raise ConsentError("Nobody is signed in to Threads (add a user to the fake).")
    return Consent(app=app, redirect_uri=redirect, state=params.get("state"),
                   scope=split_scope(params.get("scope")), user_id=users[0],
                   params={k: v for k, v in params.items() if k != "decision"})


def _describe(state: FakeState, consent: Consent) -> list[str]:
    with state.lock:
        name, username = db.store(state).users[consent.user_id]
    return [f"{name} (@{username}) on Threads"]


DIALOG = Dialog(platform=NAME, title="Threads", path="/oauth/authorize", code_ttl=3600,
                check=_check, describe=_describe,
                denied={"error": "access_denied", "error_reason": "user_denied",
                        "error_description": "Permissions error"})


def _issue(state: FakeState, user_id: str) -> str:
    token = new_secret("THQ")
    with state.lock:
        threads = db.store(state)
        name, username = threads.users.get(user_id, (user_id, f"fake_{user_id}"))
        threads.profiles.setdefault(user_id, db.Profile(user_id, username, name))
        threads.timeline.setdefault(user_id, [])
        threads.tokens[token] = user_id
    return token


def _refused(message: str, code: int = 100) -> JSONResponse:
    exc = errors.GraphError(code, message)
    return JSONResponse(exc.body(), status_code=400)


def threads_oauth_routes(state: FakeState) -> list[Route]:
    async def access_token(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        app = state.oauth_app(NAME, form.get("client_id", ""))
        if app is None or app.client_secret != form.get("client_secret"):
            return _refused("Error validating client secret.", 101)
        if form.get("grant_type") != "authorization_code":
            return _refused("Unsupported grant_type.")
        try:
            code = redeem_code(state, NAME, app.client_id,
                               form.get("code", "").removesuffix("#_"),
                               form.get("redirect_uri"))
        except CodeProblem as exc:
            return _refused(f"Error validating verification code ({exc.reason}).")
        return JSONResponse({"access_token": _issue(state, code.user_id),
                             "user_id": int(code.user_id) if code.user_id.isdigit()
                             else code.user_id})

    async def exchange(request: Request) -> Response:
        params = request.query_params
        if params.get("grant_type") != "th_exchange_token":
            return _refused("Unsupported grant_type.")
        if not any(app.client_secret == params.get("client_secret")
                   for (platform, _), app in state.data.oauth_apps.items()
                   if platform == NAME):
            return _refused("Error validating client secret.", 101)
        return _renew(params.get("access_token", ""))

    async def refresh(request: Request) -> Response:
        if request.query_params.get("grant_type") != "th_refresh_token":
            return _refused("Unsupported grant_type.")
        return _renew(request.query_params.get("access_token", ""))

    def _renew(token: str) -> Response:
        with state.lock:
            user = db.store(state).tokens.get(token)
        if user is None:
            exc = errors.invalid_token()
            return JSONResponse(exc.body(), status_code=400)
        return JSONResponse({"access_token": _issue(state, user), "token_type": "bearer",
                             "expires_in": LONG_LIVED})

    return [*dialog_routes(state, DIALOG, [DIALOG.path]),
            Route("/oauth/access_token", access_token, methods=["POST"]),
            Route("/access_token", exchange, methods=["GET"]),
            Route("/refresh_access_token", refresh, methods=["GET"])]
