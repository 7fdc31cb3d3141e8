"""Asking Threads about a token (`herald doctor`): GET /me with it.

Threads documents no debug_token answer for its tokens' scopes, so the doctor learns only
whether the token works (scopes_checked=False); its expiry is the one stored when it was
connected (60 days for a long-lived token).
"""

from __future__ import annotations

from herald.platforms.http import dict_at, json_object
from herald.platforms.spec import TokenProbe, TokenStatus


async def check_token(probe: TokenProbe) -> TokenStatus:
    version = probe.endpoint.version
    url = f"{probe.endpoint.base_url}/{version if version.startswith('v') else 'v' + version}/me"
    response = await probe.client.get(url, params={"fields": "id"},
                                      headers={"Authorization": f"Bearer {probe.token}"})
    if response.status_code < 400:
        return TokenStatus(True, scopes_checked=False)
    error = dict_at(json_object(response.text), "error")
    said = str(error.get("message") or f"HTTP {response.status_code}").replace(
        probe.token, "[token]")
    code = error.get("code")
    return TokenStatus(False, problem=f"{said} (code {code})" if code else said,
                       scopes_checked=False)
