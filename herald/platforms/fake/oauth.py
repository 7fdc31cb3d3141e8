"""What the fake's OAuth flows share: the consent dialog (a tiny HTML page, or an instant
redirect for tests without a browser), authorization codes, and fresh secrets.

Each platform describes its dialog with a `Dialog` (oauth_facebook.py, oauth_linkedin.py):
how to check a request, what the consent page lists, and what a denial redirects with.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from herald.platforms.fake.calls import mount_url
from herald.platforms.fake.models import AuthCode, OAuthApp
from herald.platforms.fake.state import FakeState


class ConsentError(Exception):
    """A dialog request that cannot be honoured: shown as an error page, never redirected
    (the redirect_uri is not trusted yet)."""


@dataclass(frozen=True)
class Consent:
    """A checked dialog request: the app, where to send the answer, and who consents."""

    app: OAuthApp
    redirect_uri: str
    state: str | None
    scope: frozenset[str]
    user_id: str
    #: Echoed into the consent form so the POST carries the original request.
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dialog:
    """One platform's authorization dialog."""

    platform: str
    title: str
    #: Path of the dialog inside its mount; the consent form posts back to it.
    path: str
    code_ttl: float
    check: Callable[[FakeState, Mapping[str, str]], Consent]
    #: Lines the consent page shows under "will receive" (user name, Pages, organizations).
    describe: Callable[[FakeState, Consent], list[str]]
    #: Query parameters of the redirect when the user says no.
    denied: Mapping[str, str]
    #: Facebook appends "#_=_" to every redirect after its dialog.
    fragment: str = ""


def dialog_routes(state: FakeState, dialog: Dialog, paths: list[str]) -> list[Route]:
    """GET shows the consent page (or answers at once); POST is the Allow/Deny form."""

    async def show(request: Request) -> Response:
        try:
            consent = dialog.check(state, request.query_params)
        except ConsentError as exc:
            return error_page(dialog.title, str(exc))
        auto = request.query_params.get("auto", "").lower()
        if auto in ("deny", "cancel"):
            return _answer(state, dialog, consent, allow=False, status=302)
        if auto in ("1", "true", "yes", "allow") or state.config.oauth_auto_approve:
            return _answer(state, dialog, consent, allow=True, status=302)
        action = f"{mount_url(request)}{dialog.path}"
        return consent_page(dialog, consent, action, dialog.describe(state, consent))

    async def decide(request: Request) -> Response:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            consent = dialog.check(state, fields)
        except ConsentError as exc:
            return error_page(dialog.title, str(exc))
        # 303 so the browser follows with a GET, as after any form post.
        return _answer(state, dialog, consent, allow=fields.get("decision") == "allow",
                       status=303)

    routes = [Route(path, show, methods=["GET"]) for path in paths]
    routes.append(Route(dialog.path, decide, methods=["POST"]))
    return routes


def _answer(state: FakeState, dialog: Dialog, consent: Consent, *, allow: bool,
            status: int) -> Response:
    if allow:
        code = issue_code(state, dialog.platform, consent, dialog.code_ttl)
        params = {"code": code}
    else:
        params = dict(dialog.denied)
    if consent.state is not None:
        params["state"] = consent.state
    return RedirectResponse(with_query(consent.redirect_uri, params, dialog.fragment),
                            status_code=status)


def with_query(uri: str, params: Mapping[str, str], fragment: str = "") -> str:
    """`uri` with `params` added to whatever query it already has."""
    parts = urlsplit(uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, fragment))


def split_scope(raw: str | None) -> frozenset[str]:
    """Scopes as sent: Facebook takes commas, LinkedIn spaces; both are accepted."""
    return frozenset((raw or "").replace(",", " ").split())


def new_secret(prefix: str) -> str:
    """An opaque code or token; the prefixes mimic the real ones (EAA…, AQ…)."""
    return prefix + secrets.token_urlsafe(36)


# --- codes ---------------------------------------------------------------------------------


def issue_code(state: FakeState, platform: str, consent: Consent, ttl: float) -> str:
    code = AuthCode(value=new_secret("AQ"), platform=platform, client_id=consent.app.client_id,
                    redirect_uri=consent.redirect_uri, user_id=consent.user_id,
                    scope=consent.scope, expires_at=state.now() + ttl)
    with state.lock:
        state.data.oauth_codes[code.value] = code
    return code.value


class CodeProblem(Exception):
    """Why a code cannot be redeemed: unknown, used, expired or redirect_mismatch."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def redeem_code(state: FakeState, platform: str, client_id: str, value: str,
                redirect_uri: str | None) -> AuthCode:
    """Use up a code once; a redirect_uri mismatch leaves it usable for a corrected retry."""
    with state.lock:
        code = state.data.oauth_codes.get(value)
        if code is None or code.platform != platform or code.client_id != client_id:
            raise CodeProblem("unknown")
        if code.used:
            raise CodeProblem("used")
        if code.expires_at <= state.now():
            raise CodeProblem("expired")
        if redirect_uri != code.redirect_uri:
            raise CodeProblem("redirect_mismatch")
        code.used = True
        return code


# --- pages ---------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f0f2f5;color:#1c1e21;margin:0}
main{max-width:30rem;margin:4rem auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;
box-shadow:0 2px 8px rgba(0,0,0,.1)}h1{font-size:1.3rem}.muted{color:#65676b;font-size:.9rem}
button{font-size:1rem;padding:.5rem 1.5rem;margin-right:.5rem;border-radius:6px;border:1px solid
#ccd0d5;cursor:pointer}button.allow{background:#1877f2;color:#fff;border-color:#1877f2}
"""


def consent_page(dialog: Dialog, consent: Consent, action: str, lines: list[str]
                 ) -> HTMLResponse:
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                     for k, v in consent.params.items())
    scopes = ", ".join(sorted(consent.scope)) or "(none)"
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return HTMLResponse(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(dialog.title)}</title>
<style>{_STYLE}</style></head><body><main>
<h1>{escape(dialog.title)}</h1>
<p><strong>{escape(consent.app.name)}</strong> is requesting access to:</p>
<ul>{items}</ul>
<p class="muted">Permissions: <code id="scope">{escape(scopes)}</code><br>
This is Herald's platform emulator: no real account is involved.</p>
<form method="post" action="{escape(action)}">{hidden}
<button class="allow" id="allow" name="decision" value="allow">Allow</button>
<button id="deny" name="decision" value="deny">Cancel</button>
</form></main></body></html>""")


def error_page(title: str, message: str, status: int = 400) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}: error</title>
<style>{_STYLE}</style></head><body><main><h1>{escape(title)}</h1>
<p id="error">{escape(message)}</p></main></body></html>""", status_code=status)
