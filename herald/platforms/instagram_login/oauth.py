"""Instagram Login (Business Login for Instagram): connecting an Instagram professional
account that has no Facebook Page.

✅[IG-LOGIN] The dialog is www.instagram.com/oauth/authorize (client_id, redirect_uri,
response_type=code, comma-separated scope, state); the code is redeemed by a form POST to
api.instagram.com/oauth/access_token (client_id, client_secret,
grant_type=authorization_code, redirect_uri, code) for a short-lived token (one hour), the
account's id and the permissions granted; graph.instagram.com/access_token then gives the
long-lived token (60 days) Herald stores and refreshes (tokens.py). `GET /me?fields=user_id,
username` names the account: `user_id` is the professional account's id that publishing
uses, `id` an app-scoped one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from herald.config import Settings
from herald.connect.base import (
    Candidate,
    ConnectError,
    Flow,
    Offer,
    body_of,
    scrub,
    unreachable,
)
from herald.platforms.base import PublishError
from herald.platforms.instagram_login import NAME
from herald.platforms.instagram_login.tokens import exchange_short_lived

#: Publishing, and reading back its media and comments (first comments need the last).
SCOPES = ("instagram_business_basic", "instagram_business_content_publish",
          "instagram_business_manage_comments")
PUBLISH_SCOPE = "instagram_business_content_publish"
#: ◐ What /me answers for accounts the API serves; a personal account cannot sign in here.
PROFESSIONAL = ("BUSINESS", "MEDIA_CREATOR", "CREATOR")


@dataclass(frozen=True)
class InstagramApp:
    """Instagram Login's app (HERALD_INSTAGRAM_APP_ID/_SECRET) and its endpoints."""

    app_id: str
    app_secret: str = field(repr=False)
    auth_url: str = "https://www.instagram.com/oauth/authorize"
    token_url: str = "https://api.instagram.com/oauth/access_token"
    api_url: str = "https://graph.instagram.com"
    version: str = "v25.0"

    @classmethod
    def from_settings(cls, settings: Settings) -> InstagramApp | None:
        secret = settings.instagram_app_secret
        if not settings.instagram_app_id or secret is None:
            return None
        return cls(settings.instagram_app_id, secret.get_secret_value(),
                   settings.instagram_auth_url, settings.instagram_token_url,
                   settings.instagram_api_url, settings.graph_api_version)


def flow(settings: Settings) -> Flow | None:
    """Instagram Login bound to the configured app; None when it is not set up."""
    app = InstagramApp.from_settings(settings)
    if app is None:
        return None
    return Flow(
        NAME, "Instagram (Instagram Login)", "Instagram Login",
        lambda uri, state: authorization_url(app, redirect_uri=uri, state=state),
        callback_problem,
        lambda client, code, uri: fetch_offer(client, app, code=code, redirect_uri=uri),
        token_note="Instagram Login tokens last 60 days; Herald refreshes each before it "
                   "expires when the account posts. One left unused past its expiry needs "
                   "connecting again.")


def authorization_url(app: InstagramApp, *, redirect_uri: str, state: str) -> str:
    return app.auth_url + "?" + urlencode({
        "client_id": app.app_id, "redirect_uri": redirect_uri, "response_type": "code",
        "scope": ",".join(SCOPES), "state": state})


def callback_problem(params: dict[str, str]) -> str | None:
    """What a redirect without a code says, in words; None when there is a code."""
    if params.get("code") and "error" not in params:
        return None
    # ✅ "Cancel" comes back as error=access_denied&error_reason=user_denied.
    if params.get("error_reason") == "user_denied" or params.get("error") == "access_denied":
        return "You cancelled Instagram's sign-in, so nothing was connected."
    said = params.get("error_description") or params.get("error") or "no authorization code"
    return f"Instagram's sign-in did not finish ({said}), so nothing was connected."


async def fetch_offer(client: httpx.AsyncClient, app: InstagramApp, *, code: str,
                      redirect_uri: str) -> Offer:
    """Redeem the code, make the token long-lived and name the account it stands for."""
    short, user_id, granted = await _redeem(client, app, code=code, redirect_uri=redirect_uri)
    try:
        long = await exchange_short_lived(client, api_url=app.api_url,
                                          app_secret=app.app_secret, token=short)
    except PublishError as exc:
        raise ConnectError(f"Instagram refused a long-lived token: {exc.message} Nothing "
                           "was connected.") from exc
    me = await _me(client, app, long.access_token)
    external_id = str(me.get("user_id") or user_id or me.get("id") or "")
    if not external_id:
        raise ConnectError("Instagram did not say which account signed in; nothing was "
                           "connected.")
    username = me.get("username")
    notes: list[str] = []
    kind = str(me.get("account_type") or "")
    if granted is not None and PUBLISH_SCOPE not in granted:
        notes.append("Publishing (instagram_business_content_publish) was not allowed, so "
                     "the account is not offered; connect again and allow it.")
        return Offer(NAME, (), tuple(notes))
    candidate = Candidate(
        platform=NAME, external_id=external_id,
        name=f"@{username}" if username else str(me.get("name") or external_id),
        access_token=long.access_token, token_expires_at=long.expires_at,
        detail="Instagram professional account (Instagram Login)",
        note="" if not kind or kind in PROFESSIONAL else
        f"Instagram calls this a {kind.lower()} account; only professional accounts publish.")
    return Offer(NAME, (candidate,), tuple(notes))


async def _redeem(client: httpx.AsyncClient, app: InstagramApp, *, code: str,
                  redirect_uri: str) -> tuple[str, str | None, set[str] | None]:
    form = {"client_id": app.app_id, "client_secret": app.app_secret,
            "grant_type": "authorization_code", "redirect_uri": redirect_uri, "code": code}
    try:
        response = await client.post(app.token_url, data=form)
    except httpx.HTTPError as exc:
        raise unreachable("Instagram", exc) from exc
    body = body_of(response)
    # ✅ Business Login answers {"data": [{access_token, user_id, permissions}]}; the older
    # shape is the same object without the list: take either.
    rows = body.get("data")
    row: dict[str, Any] = rows[0] if isinstance(rows, list) and rows and \
        isinstance(rows[0], dict) else body
    token = row.get("access_token")
    if response.status_code >= 400 or not isinstance(token, str) or not token:
        said = str(body.get("error_message") or body.get("error_description")
                   or dict_message(body) or f"HTTP {response.status_code}")
        raise ConnectError(scrub(f"Instagram refused the sign-in: {said} Nothing was "
                                 "connected. Start again with the Connect button; if it "
                                 "says the app or secret is wrong, check "
                                 "HERALD_INSTAGRAM_APP_ID and HERALD_INSTAGRAM_APP_SECRET.",
                                 app.app_secret, code))
    permissions = row.get("permissions")
    granted = ({p.strip() for p in permissions.split(",")} if isinstance(permissions, str)
               else {str(p) for p in permissions} if isinstance(permissions, list) else None)
    user_id = row.get("user_id")
    return token, str(user_id) if user_id is not None else None, granted


def dict_message(body: dict[str, Any]) -> str:
    error = body.get("error")
    return str(error.get("message") or "") if isinstance(error, dict) else str(error or "")


async def _me(client: httpx.AsyncClient, app: InstagramApp, token: str) -> dict[str, Any]:
    url = f"{app.api_url}/{app.version}/me"
    try:
        response = await client.get(url, params={"fields": "user_id,username,name,account_type"},
                                    headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise unreachable("Instagram", exc) from exc
    body = body_of(response)
    if response.status_code >= 400 or "error" in body:
        raise ConnectError(scrub(f"Instagram would not say which account signed in "
                                 f"({dict_message(body) or response.status_code}); nothing "
                                 "was connected.", token))
    return body
