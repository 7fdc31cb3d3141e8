"""Instagram Login's tokens on graph.instagram.com: the long-lived token a short-lived one
is exchanged for, its refresh, and what `herald doctor` asks of it.

✅[IG-TOK] `GET /access_token?grant_type=ig_exchange_token&client_secret=…&access_token=…`
turns the sign-in's one-hour token into a long-lived one (60 days, `expires_in` 5,183,944 s
in Meta's example); `GET /refresh_access_token?grant_type=ig_refresh_token&access_token=…`
gives a token good for another 60 days from one that is at least 24 hours old and not yet
expired. There is no refresh token and no app secret in a refresh: the long-lived token
refreshes itself, so an expired one cannot be revived (connect again). Both are GETs with
the token in the query, as documented ❓ (whether they take a POST is not); the answers are
never logged and error texts are scrubbed of the token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from herald.platforms.base import PublishError, TransientError
from herald.platforms.http import dict_at, json_object, to_int, transport_error, utcnow
from herald.platforms.instagram_login.errors import login_error
from herald.platforms.spec import TokenProbe, TokenStatus


@dataclass(frozen=True)
class LongLivedToken:
    """A long-lived Instagram user token; it is its own refresh (no refresh token)."""

    access_token: str = field(repr=False)
    expires_at: datetime | None
    refresh_token: str | None = field(default=None, repr=False)
    refresh_token_expires_at: datetime | None = None


async def exchange_short_lived(client: httpx.AsyncClient, *, api_url: str, app_secret: str,
                               token: str, now: Callable[[], datetime] = utcnow
                               ) -> LongLivedToken:
    """The sign-in's short-lived token for a long-lived one (grant_type=ig_exchange_token)."""
    return await _token_call(client, f"{api_url}/access_token", {
        "grant_type": "ig_exchange_token", "client_secret": app_secret,
        "access_token": token}, secrets=(token, app_secret), now=now)


async def refresh_long_lived(client: httpx.AsyncClient, *, token_url: str, token: str,
                             now: Callable[[], datetime] = utcnow) -> LongLivedToken:
    """A long-lived token good for another 60 days (grant_type=ig_refresh_token)."""
    return await _token_call(client, token_url, {
        "grant_type": "ig_refresh_token", "access_token": token}, secrets=(token,), now=now)


async def _token_call(client: httpx.AsyncClient, url: str, params: dict[str, str], *,
                      secrets: tuple[str, ...], now: Callable[[], datetime]) -> LongLivedToken:
    try:
        resp = await client.get(url, params=params)
    except httpx.TransportError as exc:
        raise transport_error(exc, platform="Instagram", commit=False) from exc
    body = json_object(resp.text)
    error = body.get("error")
    token = body.get("access_token")
    if isinstance(error, dict) or resp.status_code >= 400 or not isinstance(token, str) \
            or not token:
        raise _refused(error, resp.status_code, secrets)
    seconds = to_int(body.get("expires_in"))
    return LongLivedToken(token, now() + timedelta(seconds=seconds) if seconds else None)


def _refused(error: object, status: int, secrets: tuple[str, ...]) -> PublishError:
    if not isinstance(error, dict):
        return TransientError(f"Instagram answered HTTP {status} without a token; Herald "
                              "tries again later.", code=f"http_{status}",
                              unreachable=status >= 500)
    scrubbed = {k: _scrub(v, secrets) if isinstance(v, str) else v for k, v in error.items()}
    return login_error(scrubbed, step="read", status=status)


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[token]")
    return text


async def check_token(probe: TokenProbe, required: tuple[str, ...]) -> TokenStatus:
    """Whether graph.instagram.com takes the token (GET /me): it has no debug_token, so
    neither the expiry nor the scopes can be read back (`scopes_checked` False)."""
    url = f"{probe.endpoint.base_url}/{probe.endpoint.version}/me"
    response = await probe.client.get(url, params={"fields": "user_id,username"},
                                      headers={"Authorization": f"Bearer {probe.token}"})
    body = json_object(response.text)
    if response.status_code < 400 and "error" not in body:
        return TokenStatus(True, scopes_checked=False)
    error = dict_at(body, "error")
    said = _scrub(str(error.get("message") or f"HTTP {response.status_code}"), (probe.token,))
    code = error.get("code")
    return TokenStatus(False, problem=f"{said} (code {code})" if code else said)
