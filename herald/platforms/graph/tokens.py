"""Asking Meta about a token (`herald doctor`): GET /debug_token.

debug_token answers whether a token is valid, when it expires (0: never, as Page tokens
from a long-lived user token) and the scopes it was granted. It wants an app token
(`<app id>|<app secret>`) as access_token; without the Meta app configured the token itself
is used, which Meta accepts for the app's own tokens and which still tells a dead token
(code 190) from a live one. A token that is not valid is answered 200 with is_valid false.
"""

from __future__ import annotations

from datetime import UTC, datetime

from herald.platforms.http import dict_at, json_object, list_at, to_int
from herald.platforms.spec import TokenProbe, TokenStatus


async def debug_token(probe: TokenProbe, required: tuple[str, ...]) -> TokenStatus:
    """The token's status; `required` are the scopes publishing needs."""
    settings = probe.settings
    app = (f"{settings.facebook_app_id}|{settings.facebook_app_secret.get_secret_value()}"
           if settings.facebook_app_id and settings.facebook_app_secret else None)
    url = f"{probe.endpoint.base_url}/{probe.endpoint.version}/debug_token"
    response = await probe.client.get(url, params={"input_token": probe.token,
                                                   "access_token": app or probe.token})
    body = json_object(response.text)
    if response.status_code >= 400:
        said = _said(dict_at(body, "error"), probe.token, response.status_code)
        if app is not None:
            return TokenStatus(False, problem=f"Meta refused the app's own token ({said}); "
                                              "check HERALD_FACEBOOK_APP_ID and "
                                              "HERALD_FACEBOOK_APP_SECRET")
        return TokenStatus(False, problem=said)
    data = dict_at(body, "data")
    if data.get("is_valid") is not True:
        return TokenStatus(False, problem=_said(dict_at(data, "error"), probe.token, 200))
    expires = to_int(data.get("expires_at")) or 0
    granted = {str(s) for s in list_at(data, "scopes")}
    return TokenStatus(
        True, expires_at=datetime.fromtimestamp(expires, UTC) if expires > 0 else None,
        missing=tuple(p for p in required if p not in granted))


def _said(error: dict[str, object], token: str, status: int) -> str:
    message = str(error.get("message") or f"HTTP {status}").replace(token, "[token]")
    code, subcode = error.get("code"), error.get("error_subcode") or error.get("subcode")
    return f"{message} (code {code}{f', subcode {subcode}' if subcode else ''})" \
        if code else message
