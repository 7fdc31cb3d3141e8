"""Connecting Mastodon accounts through their instance's own sign-in (OAuth 2).

Every instance is its own OAuth provider, so there is no app to configure: the person
names their instance, Herald registers itself there once (POST /api/v1/apps,
docs.joinmastodon.org/methods/apps/#create; kept per instance in oauth_server_apps), sends
the browser to the instance's /oauth/authorize and turns the code into a token at
/oauth/token (docs.joinmastodon.org/methods/oauth/), then asks verify_credentials whose it
is. Mastodon tokens do not expire (no refresh).
"""

from __future__ import annotations

import asyncio
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
from herald.connect.server_apps import ServerApp, ServerApps
from herald.platforms.mastodon import NAME

#: What publishing needs (docs.joinmastodon.org/api/oauth-scopes/): post statuses, upload
#: media, and read (verify_credentials, the account's statuses and threads for
#: reconciliation).
SCOPES = "read write:statuses write:media"
CLIENT_NAME = "Herald"


def flow(settings: Settings) -> Flow:
    """Always offered: nothing to configure (each instance registers Herald itself)."""
    return Flow(name=NAME, title="Mastodon", platform_label="Mastodon",
                authorize=_unbound_authorize, problem=problem, fetch=_unbound_fetch,
                token_note="Herald stores the account's Mastodon token encrypted; it does "
                           "not expire until you revoke it in the instance's settings.",
                per_server=for_server)


def _unbound_authorize(redirect_uri: str, state: str) -> str:
    raise ConnectError("Name your Mastodon instance first.")


async def _unbound_fetch(client: httpx.AsyncClient, code: str, redirect_uri: str) -> Offer:
    raise ConnectError("Name your Mastodon instance first.")


def problem(params: dict[str, str]) -> str | None:
    if "error" in params:
        said = params.get("error_description") or params["error"]
        return f"Mastodon did not connect the account ({said}); nothing was connected."
    if not params.get("code"):
        return "Mastodon sent no authorization code back; nothing was connected."
    return None


async def for_server(client: httpx.AsyncClient, apps: ServerApps, server: str,
                     redirect_uri: str) -> Flow:
    """The flow on `server`, with Herald's app there (registered now if need be)."""
    app = await asyncio.to_thread(apps.find, NAME, server, redirect_uri, SCOPES)
    if app is None:
        app = await register(client, server, redirect_uri)
        app = await asyncio.to_thread(apps.save, NAME, server, redirect_uri, app)
    registered = app

    def authorize(redirect: str, state: str) -> str:
        return f"{server}/oauth/authorize?" + urlencode({
            "client_id": registered.client_id, "redirect_uri": redirect,
            "response_type": "code", "scope": SCOPES, "state": state})

    async def fetch(client: httpx.AsyncClient, code: str, redirect: str) -> Offer:
        token = await exchange(client, server, registered, code, redirect)
        return Offer(NAME, (await candidate(client, server, token),))

    return Flow(name=NAME, title="Mastodon", platform_label="Mastodon", authorize=authorize,
                problem=problem, fetch=fetch, token_note=flow(Settings()).token_note)


async def register(client: httpx.AsyncClient, server: str, redirect_uri: str) -> ServerApp:
    """POST /api/v1/apps: Herald's client id and secret on this instance."""
    try:
        resp = await client.post(f"{server}/api/v1/apps", data={
            "client_name": CLIENT_NAME, "redirect_uris": redirect_uri, "scopes": SCOPES})
    except httpx.HTTPError as exc:
        raise unreachable(server, exc) from None
    body = body_of(resp)
    if resp.status_code >= 400 or not body.get("client_id") or not body.get("client_secret"):
        said = body.get("error") or f"HTTP {resp.status_code}"
        raise ConnectError(f"{server} would not register Herald as an app ({said}); is it a "
                           "Mastodon instance? Nothing was connected.")
    return ServerApp(str(body["client_id"]), str(body["client_secret"]), SCOPES)


async def exchange(client: httpx.AsyncClient, server: str, app: ServerApp, code: str,
                   redirect_uri: str) -> str:
    """POST /oauth/token: the authorization code for an access token."""
    try:
        resp = await client.post(f"{server}/oauth/token", data={
            "grant_type": "authorization_code", "code": code, "client_id": app.client_id,
            "client_secret": app.client_secret, "redirect_uri": redirect_uri,
            "scope": SCOPES})
    except httpx.HTTPError as exc:
        raise unreachable(server, exc) from None
    body = body_of(resp)
    token = body.get("access_token")
    if resp.status_code >= 400 or not isinstance(token, str) or not token:
        said = scrub(str(body.get("error_description") or body.get("error")
                         or f"HTTP {resp.status_code}"), code, app.client_secret)
        raise ConnectError(f"{server} did not give Herald a token ({said}); nothing was "
                           "connected. Start again with the Connect button.")
    return token


async def candidate(client: httpx.AsyncClient, server: str, token: str) -> Candidate:
    """The account the token opens, named username@instance (ids repeat across instances)."""
    from herald.platforms.base import PublishError
    from herald.platforms.mastodon.client import verify_credentials

    try:
        account = await verify_credentials(client, server, token)
    except PublishError as exc:
        raise ConnectError(f"{server} did not show the account: {exc.message}") from None
    host = httpx.URL(server).host
    username = str(account.get("username") or account.get("acct") or account["id"])
    name = str(account.get("display_name") or username)
    return Candidate(platform=NAME, external_id=f"{username}@{host}", name=name,
                     access_token=token, detail=f"@{username}@{host}", server_url=server)
