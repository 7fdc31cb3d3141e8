"""Browser sessions (a signed cookie) and the CSRF token that every unsafe request carries.

The session cookie holds the signed-in user's id, the session generation it began in, the
company it works in (an agency's people switch between theirs), a per-session CSRF token
and flash messages; it is HttpOnly, SameSite=Lax, and Secure when Herald is served over
https. The cookie alone is not enough: a session counts only while its generation is the
user's in the database (users.session_generation, read with the user on each request
anyway) and the user is a member of its company, so signing out, a new password or being
removed from a company ends it on every server process.
A form sends the token in a hidden `csrf_token` field, htmx and fetch() in the
`X-CSRF-Token` header; a POST without a matching one is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware

from herald.errors import AppError
from herald.runtime import Herald
from herald.web import WebOnly

COOKIE = "herald_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_AGE = 14 * 24 * 3600


class CsrfRefused(AppError):
    """This form has expired or did not come from Herald; reload the page and try again."""

    status = 403
    code = "csrf"


def session_secret(herald: Herald) -> str:
    # A key of its own, derived from the one secret, so a leaked cookie key cannot
    # decrypt the stored platform tokens.
    key = herald.settings.resolved_secret_key().encode()
    return hmac.new(key, b"herald web session cookie", hashlib.sha256).hexdigest()


def add_session_middleware(app: FastAPI, herald: Herald) -> None:
    app.add_middleware(
        WebOnly, middleware=SessionMiddleware, secret_key=session_secret(herald),
        session_cookie=COOKIE, max_age=MAX_AGE, same_site="lax",
        https_only=herald.settings.public_url.startswith("https://"),
    )


def csrf_token(request: Request) -> str:
    """This session's token, made on first use."""
    token: str | None = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def require_csrf(request: Request) -> None:
    """Dependency: refuse unsafe methods without this session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = request.session.get("csrf")
    if not expected:  # refused before the form is read: no body buffered for nobody
        raise CsrfRefused()
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise CsrfRefused()


#: Forms that someone not signed in may send (every other one needs a signed-in session).
PUBLIC_FORMS = frozenset({"/signin"})
#: Forms used without an account: a client acting through a review link, a new member
#: accepting an invitation (the secret in the path is checked by the route; the session's
#: CSRF token still is, here).
PUBLIC_FORM_PREFIXES = ("/review/", "/invitations/")


def refusal_before_reading(session: dict[str, Any], path: str, header: str | None
                           ) -> str | None:
    """Why a form POST is refused before its body is read, else None.

    FastAPI reads a route's `Form()` fields (a whole form, a multipart one spooled to
    disk) before it runs `require_csrf`, so what can be decided without the body is
    decided first, by herald.bodies.BodyGuard: a session with a CSRF token, signed in
    (but for the sign-in form), and the token if it came in the header. A token sent in
    the form is compared by `require_csrf` once the (capped) body is read.
    """
    expected = session.get("csrf")
    if not isinstance(expected, str) or not expected:
        return CsrfRefused.__doc__
    if header is not None and not hmac.compare_digest(expected, header):
        return CsrfRefused.__doc__
    public = path in PUBLIC_FORMS or path.startswith(PUBLIC_FORM_PREFIXES)
    if not public and not session.get("user_id"):
        return "Sign in first: your session has ended. Reload the page and sign in again."
    return None


def start(request: Request, user_id: str, generation: int) -> None:
    """A fresh session for a user who just signed in (no fixation: a new CSRF token too)."""
    request.session.clear()
    request.session["user_id"] = user_id
    request.session["generation"] = generation
    csrf_token(request)


def generation(request: Request) -> int | None:
    """The session generation this cookie began in (None: a cookie from before them)."""
    value = request.session.get("generation")
    return value if isinstance(value, int) else None


def active_company(request: Request) -> str | None:
    """The company this session works in, once switched (None: the user's home company)."""
    value = request.session.get("company_id")
    return value if isinstance(value, str) else None


def switch_company(request: Request, company_id: str) -> None:
    """Work in this company from now on (the caller has checked the membership)."""
    request.session["company_id"] = company_id


def end(request: Request) -> None:
    request.session.clear()


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A message for the next page shown (after a redirect)."""
    messages: list[dict[str, Any]] = list(request.session.get("flash", []))
    messages.append({"kind": kind, "text": message})
    request.session["flash"] = messages[-5:]


def pop_flashes(request: Request) -> list[dict[str, Any]]:
    if "flash" not in request.session:
        return []
    messages: list[dict[str, Any]] = request.session.pop("flash")
    return messages
