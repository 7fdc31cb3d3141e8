"""Single sign-on: send the browser to the company's identity provider and take it back.

Failed callbacks count against the client's address like failed password sign-ins
(herald/web/throttle.py), so guessing at the callback is throttled too.
"""

from __future__ import annotations

import httpx
from fastapi import Request
from fastapi.responses import Response

from herald import services
from herald.errors import AppError, Forbidden, NotFound
from herald.models import utcnow
from herald.runtime import Herald
from herald.sso import oidc, providers
from herald.web import sessions, throttle
from herald.web.deps import HeraldDep, safe_next
from herald.web.render import page
from herald.web.routes import see_other, web_router

router = web_router()
SESSION_KEY = "oidc"
TIMEOUT = httpx.Timeout(10.0)


def _redirect_uri(herald: Herald) -> str:
    return f"{herald.settings.public_url.rstrip('/')}/signin/sso/callback"


def _refused(request: Request, exc: AppError, next_url: str = "/") -> Response:
    return page(request, "signin.html", title="Sign in", first_run=False,
                status_code=exc.status, values={"email": "", "next": next_url},
                errors={"form": exc.message})


def _provider(herald: Herald, company_ref: str) -> providers.Provider:
    with herald.db.session() as session:
        company = services.find_company(session, company_ref)
        found = providers.for_sign_in(session, herald.context(company.id))
    if found is None:
        raise NotFound(f"{company.name} has no single sign-on; sign in with your password.")
    return found


def _key(request: Request) -> tuple[str, str | None]:
    address = request.client.host if request.client else None
    return f"sso:{address}", address


@router.get("/signin/sso")
def start(request: Request, herald: HeraldDep, company: str = "", next: str = "/"
          ) -> Response:
    next_url = safe_next(next)
    try:
        provider = _provider(herald, company)
        with httpx.Client(timeout=TIMEOUT) as http:
            url, pending = oidc.start(http, provider, redirect_uri=_redirect_uri(herald),
                                      next_url=next_url)
    except AppError as exc:
        return _refused(request, exc, next_url)
    request.session[SESSION_KEY] = pending.as_dict()
    # A page that moves on by itself, not a redirect: the sign-in form led here, and the
    # CSP's form-action 'self' stops a form's redirect to another origin (the provider).
    return page(request, "sso_redirect.html", title="Single sign-on", url=url)


@router.get("/signin/sso/callback")
def callback(request: Request, herald: HeraldDep, code: str = "", state: str = "",
             error: str = "") -> Response:
    saved = request.session.pop(SESSION_KEY, None)
    limits = throttle.Limits.from_settings(herald.settings)
    email_key, address = _key(request)
    now = utcnow()
    with herald.db.session() as session:
        wait = throttle.wait_seconds(session, limits, email=email_key, address=address,
                                     now=now)
    if wait is not None:
        return _refused(request, oidc.SsoRefused(
            "Too many failed sign-ins. For your safety, wait a few minutes and try again."))
    try:
        if not isinstance(saved, dict) or error:
            raise oidc.SsoRefused(f"The identity provider refused the sign-in ({error})."
                                  if error else "This sign-in was not started here; start "
                                  "again.")
        pending = oidc.Pending(**saved)
        user_id, generation = _finish(herald, pending, code=code, state=state)
    except AppError as exc:
        with herald.unit_of_work() as session:
            throttle.record_failure(session, limits, email=email_key, address=address,
                                    now=now)
        return _refused(request, exc)
    sessions.start(request, user_id, generation)
    sessions.switch_company(request, pending.company_id)
    return see_other(pending.next_url)


def _finish(herald: Herald, pending: oidc.Pending, *, code: str, state: str
            ) -> tuple[str, int]:
    provider = _provider(herald, pending.company_id)
    # The provider's calls first, no transaction open; then the member, in one.
    with httpx.Client(timeout=TIMEOUT) as http:
        claims = oidc.finish(http, provider, pending, redirect_uri=_redirect_uri(herald),
                             code=code, state=state)
    role = providers.role_from(provider, claims)
    if role is None:
        raise Forbidden("Your identity provider gives you no role in this company; ask "
                        "its administrator.", permission="sso_role")
    email = str(claims["email"]).strip().lower()
    with herald.unit_of_work() as session:
        ctx = herald.context(pending.company_id, actor=f"web:{email}"[:100])
        return providers.provision(session, ctx, claims, role)
