"""Threads' OAuth connect flow (Meta's "Threads API" use case).

threads.net/oauth/authorize → code → `POST graph.threads.net/oauth/access_token` (a
short-lived token, one hour, and the `user_id`) → `GET /access_token?grant_type=
th_exchange_token` (a long-lived token, 60 days) → `GET /v1.0/me` (the profile's username
and name). A long-lived token that is at least 24 hours old and not expired is renewed for
another 60 days by `GET /refresh_access_token?grant_type=th_refresh_token`
(`refresh_long_lived`); an expired one cannot be renewed: the account is connected again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
from herald.models import utcnow
from herald.platforms.threads import NAME

SCOPES = ("threads_basic", "threads_content_publish", "threads_manage_replies")
#: A long-lived token lasts 60 days; Meta says so when it omits expires_in.
LONG_LIVED_SECONDS = 60 * 86400
#: error values of a redirect where the person said no.
CANCELLED = frozenset({"access_denied", "user_denied"})


@dataclass(frozen=True)
class ThreadsApp:
    """A Threads app (HERALD_THREADS_APP_ID/_SECRET) and where its endpoints are."""

    app_id: str
    app_secret: str = field(repr=False)
    auth_url: str = "https://threads.net/oauth/authorize"
    api_url: str = "https://graph.threads.net"
    version: str = "v1.0"

    @classmethod
    def from_settings(cls, settings: Settings) -> ThreadsApp | None:
        secret = settings.threads_app_secret
        if not settings.threads_app_id or secret is None:
            return None
        return cls(settings.threads_app_id, secret.get_secret_value(),
                   settings.threads_auth_url, settings.threads_api_url,
                   settings.threads_api_version)


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    expires_at: datetime | None
    #: Threads renews the long-lived access token itself: it is its own refresh token.
    refresh_token: str | None = field(default=None, repr=False)
    refresh_token_expires_at: datetime | None = None


def flow(settings: Settings) -> Flow | None:
    """Threads' sign-in bound to the configured app; None when it is not set up."""
    app = ThreadsApp.from_settings(settings)
    if app is None:
        return None
    return Flow(
        NAME, "Threads", "Threads' sign-in",
        lambda uri, state: authorization_url(app, redirect_uri=uri, state=state),
        callback_problem,
        lambda client, code, uri: fetch_offer(client, app, code=code, redirect_uri=uri),
        token_note="Threads tokens last 60 days; connect the account again before then.")


def authorization_url(app: ThreadsApp, *, redirect_uri: str, state: str) -> str:
    return app.auth_url + "?" + urlencode({
        "client_id": app.app_id, "redirect_uri": redirect_uri, "state": state,
        "scope": ",".join(SCOPES), "response_type": "code"})


def callback_problem(params: dict[str, str]) -> str | None:
    """What a redirect without a code says, in words; None when there is a code."""
    if params.get("code") and "error" not in params:
        return None
    if params.get("error") in CANCELLED or params.get("error_reason") == "user_denied":
        return "You cancelled Threads' sign-in, so nothing was connected."
    said = params.get("error_description") or params.get("error") or "no authorization code"
    return f"Threads' sign-in did not finish ({said}), so nothing was connected."


async def fetch_offer(client: httpx.AsyncClient, app: ThreadsApp, *, code: str,
                      redirect_uri: str, now: Callable[[], datetime] = utcnow) -> Offer:
    """Redeem the code, exchange it for a long-lived token, offer the profile."""
    # Meta appends "#_" to the code in the redirect; it is not part of the code.
    short = await _call(client, app, "POST", f"{app.api_url}/oauth/access_token", data={
        "client_id": app.app_id, "client_secret": app.app_secret,
        "grant_type": "authorization_code", "redirect_uri": redirect_uri,
        "code": code.removesuffix("#_")}, what="the sign-in code")
    at = now()
    long = await _call(client, app, "GET", f"{app.api_url}/access_token", params={
        "grant_type": "th_exchange_token", "client_secret": app.app_secret,
        "access_token": str(short["access_token"])}, what="a long-lived token")
    token = str(long["access_token"])
    me = await _call(client, app, "GET", f"{app.api_url}/{app.version}/me",
                     params={"fields": "id,username,name"}, token=token, what="the profile")
    user_id = str(me.get("id") or short.get("user_id") or "")
    if not user_id:
        raise ConnectError("Threads' profile answer named no user; nothing was connected.")
    username = str(me.get("username") or user_id)
    expires = _after(at, long.get("expires_in"))
    return Offer(flow=NAME, candidates=(Candidate(
        platform=NAME, external_id=user_id, name=str(me.get("name") or username),
        access_token=token, token_expires_at=expires, detail=f"@{username} on Threads"),))


async def refresh_long_lived(client: httpx.AsyncClient, *, api_url: str, token: str,
                             now: Callable[[], datetime] = utcnow) -> TokenSet:
    """Renew a long-lived token (at least a day old, not expired) for another 60 days."""
    from herald.platforms.base import NeedsReauthError, TransientError

    try:
        resp = await client.get(f"{api_url.rstrip('/')}/refresh_access_token", params={
            "grant_type": "th_refresh_token", "access_token": token})
    except httpx.HTTPError as exc:
        raise TransientError(f"Could not reach Threads to renew the token "
                             f"({type(exc).__name__}).", code="network") from exc
    body = body_of(resp)
    if resp.status_code >= 500:
        raise TransientError(f"Threads could not renew the token now (HTTP "
                             f"{resp.status_code}).", code=str(resp.status_code))
    if resp.status_code >= 400 or not body.get("access_token"):
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        said = scrub(str(error.get("message") or f"HTTP {resp.status_code}"), token)
        raise NeedsReauthError(f"Threads would not renew the account's token ({said}); "
                               "connect the account again.", code=str(error.get("code") or
                                                                       resp.status_code))
    renewed = str(body["access_token"])
    return TokenSet(renewed, _after(now(), body.get("expires_in")), refresh_token=renewed)


async def _call(client: httpx.AsyncClient, app: ThreadsApp, method: str, url: str, *,
                what: str, token: str | None = None, params: dict[str, str] | None = None,
                data: dict[str, str] | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        resp = await client.request(method, url, params=params, data=data, headers=headers)
    except httpx.HTTPError as exc:
        raise unreachable("Threads", exc) from exc
    body = body_of(resp)
    if resp.status_code >= 400 or (what != "the profile" and not body.get("access_token")):
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        said = str(error.get("message") or body.get("error_message")
                   or f"HTTP {resp.status_code}")
        raise ConnectError(f"Threads refused {what}: "
                           f"{scrub(said, app.app_secret, token)}. Nothing was connected.")
    return body


def _after(at: datetime, seconds: object) -> datetime:
    try:
        value = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = float(LONG_LIVED_SECONDS)
    return at + timedelta(seconds=value)
