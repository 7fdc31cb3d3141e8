"""Dependencies of the web routes: the signed-in user and the use-case context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from herald.models import Company
from herald.permissions import Permission, Role, allows
from herald.runtime import Herald
from herald.services import Context, memberships
from herald.web import sessions, users
from herald.web.localtime import zone


class SignInRequired(Exception):
    """No one is signed in: the page answers with a redirect to the sign-in form."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


@dataclass(frozen=True)
class WebUser:
    id: str
    company_id: str
    company_name: str
    email: str
    name: str
    timezone: str
    role: Role = Role.OWNER
    account_ids: frozenset[str] | None = None
    #: (id, name) of every company they belong to: the switcher offers the others.
    companies: tuple[tuple[str, str], ...] = ()

    def may(self, permission: str) -> bool:
        """For templates: whether to offer what the role may do (services still check)."""
        return allows(self.role, Permission(permission))

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def label(self) -> str:
        return self.name or self.email


def get_herald(request: Request) -> Herald:
    herald: Herald = request.app.state.herald
    return herald


HeraldDep = Annotated[Herald, Depends(get_herald)]


def mark_web(request: Request) -> None:
    """Router dependency: errors on this request are shown as pages, not JSON."""
    request.state.herald_web = True


def current_user(request: Request, herald: HeraldDep) -> WebUser:
    user_id = request.session.get("user_id")
    if user_id:
        with herald.db.session() as session:
            found = _signed_in(session, request, user_id)
        if found is not None:
            return found
        # Removed, signed out elsewhere, or a new password: sign in again.
        request.session.pop("user_id", None)
    # After signing in, come back here; a form's POST cannot be replayed, so its page.
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise SignInRequired(target if request.method == "GET" else "/")


def _signed_in(session: Session, request: Request, user_id: str) -> WebUser | None:
    """The user of a live session, in the company it works in (None: the session is over)."""
    user = users.get_user(session, user_id)
    if user is None or user.session_generation != sessions.generation(request):
        return None
    company_id = sessions.active_company(request) or user.company_id
    # Read on every request: a membership removed a moment ago counts at once.
    membership = memberships.find(session, user_id=user.id, company_id=company_id)
    company = session.get(Company, company_id)
    if membership is None or company is None:
        return None
    return WebUser(id=user.id, company_id=company_id, company_name=company.name,
                   email=user.email, name=user.name,
                   timezone=user.timezone or company.timezone or "UTC",
                   role=Role(membership.role),
                   account_ids=(frozenset(membership.account_ids)
                                if membership.account_ids is not None else None),
                   companies=tuple(memberships.companies_of(session, user.id)))


UserDep = Annotated[WebUser, Depends(current_user)]


def web_context(herald: HeraldDep, user: UserDep) -> Context:
    # posts.created_by holds 100 characters; an email address may hold 320.
    return herald.context(user.company_id, actor=f"web:{user.email}"[:100], role=user.role,
                          account_ids=user.account_ids)


ContextDep = Annotated[Context, Depends(web_context)]


def signin_url(next_url: str) -> str:
    return "/signin" if next_url in ("", "/") else f"/signin?next={quote(next_url)}"


def safe_next(value: str | None) -> str:
    """Only a path on this site: `next` must not send a user to another host after sign-in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
