"""Asking LinkedIn about a token (`herald doctor`).

With the LinkedIn app configured, token introspection (POST /oauth/v2/introspectToken,
beside the token endpoint) answers whether the token is active, when it expires and its
scopes [LI-TOK]. Without the app, GET /v2/userinfo with the token tells only whether
LinkedIn takes it: 401 is a dead token; 403 is a live one without the openid scope.
"""

from __future__ import annotations

from datetime import UTC, datetime

from herald.platforms.http import json_object, to_int
from herald.platforms.spec import TokenProbe, TokenStatus


def required_scope(external_id: str) -> str:
    """What posting as this account needs: an organization's or a member's scope."""
    return ("w_organization_social" if external_id.startswith("urn:li:organization:")
            else "w_member_social")


def introspect_url(token_url: str) -> str:
    return token_url.rsplit("/", 1)[0] + "/introspectToken"


async def check_token(probe: TokenProbe) -> TokenStatus:
    settings = probe.settings
    if settings.linkedin_client_id and settings.linkedin_client_secret:
        return await _introspect(probe, settings.linkedin_client_id,
                                 settings.linkedin_client_secret.get_secret_value())
    response = await probe.client.get(f"{probe.endpoint.base_url}/v2/userinfo",
                                      headers={"Authorization": f"Bearer {probe.token}"})
    if response.status_code in (200, 403):
        return TokenStatus(True, scopes_checked=False)
    return TokenStatus(False, problem=_said(response.text, response.status_code, probe.token))


async def _introspect(probe: TokenProbe, client_id: str, secret: str) -> TokenStatus:
    response = await probe.client.post(
        introspect_url(probe.settings.linkedin_token_url),
        data={"client_id": client_id, "client_secret": secret, "token": probe.token})
    body = json_object(response.text)
    if response.status_code >= 400:
        return TokenStatus(False, problem=f"LinkedIn refused the app's introspection "
                           f"({_said(response.text, response.status_code, probe.token)}); "
                           "check HERALD_LINKEDIN_CLIENT_ID and HERALD_LINKEDIN_CLIENT_SECRET")
    if body.get("active") is not True:
        status = str(body.get("status") or "unknown to LinkedIn or made by another app")
        return TokenStatus(False, problem=f"the token is {status}")
    expires = to_int(body.get("expires_at"))
    granted = {s.strip() for s in str(body.get("scope") or "").replace(" ", ",").split(",")}
    needed = required_scope(probe.external_id)
    return TokenStatus(True, expires_at=datetime.fromtimestamp(expires, UTC) if expires
                       else None, missing=() if needed in granted else (needed,))


def _said(text: str, status: int, token: str) -> str:
    body = json_object(text)
    message = str(body.get("message") or body.get("error_description") or f"HTTP {status}")
    return message.replace(token, "[token]")
