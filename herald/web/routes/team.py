"""The company switcher, and accepting an invitation (herald.services.invitations)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from herald.errors import AppError, Forbidden, Invalid
from herald.models import User, utcnow
from herald.services import invitations, memberships
from herald.team_models import Invitation
from herald.web import sessions, users
from herald.web.deps import HeraldDep, SignInRequired, UserDep, WebUser, current_user
from herald.web.render import page
from herald.web.routes import see_other, web_router

router = web_router()


@router.post("/switch-company")
def switch_company(request: Request, herald: HeraldDep, user: UserDep,
                   company_id: Annotated[str, Form()] = "") -> Response:
    """Work in another company of one's own; a company one is not a member of is refused."""
    with herald.db.session() as session:
        found = memberships.find(session, user_id=user.id, company_id=company_id)
    if found is None:
        raise Forbidden("You are not a member of that company.", permission="membership")
    sessions.switch_company(request, company_id)
    name = dict(user.companies).get(company_id, "")
    sessions.flash(request, f"You are working in {name}.")
    return see_other("/")


def _signed_in(request: Request, herald: HeraldDep) -> WebUser | None:
    try:
        return current_user(request, herald)
    except SignInRequired:
        return None


@router.get("/invitations/{token}")
def invitation_page(request: Request, token: str, herald: HeraldDep) -> Response:
    user = _signed_in(request, herald)
    try:
        with herald.db.session() as session:
            row = invitations.find(session, token, utcnow())
            company = invitations.company_name(session, row)
            has_account = users.any_user_with(session, row.email)
    except AppError as exc:
        return page(request, "invitation.html", user, title="Invitation",
                    status_code=exc.status, problem=exc.message, invitation=None)
    return page(request, "invitation.html", user, title="Invitation", problem=None,
                invitation=row, company=company, has_account=has_account, token=token)


@router.post("/invitations/{token}/accept")
def accept(request: Request, token: str, herald: HeraldDep,
           name: Annotated[str, Form()] = "", password: Annotated[str, Form()] = ""
           ) -> Response:
    """Join as the signed-in user, or (no one has the address yet) as a new user."""
    signed_in = _signed_in(request, herald)
    try:
        with herald.unit_of_work() as session:
            row = invitations.find(session, token, utcnow())
            user = _accepting(session, row, signed_in, name=name, password=password)
            ctx = herald.context(row.company_id, actor=f"web:{user.email}"[:100])
            invitations.accept(session, ctx, token, user=user)
            company_id, user_id, generation = row.company_id, user.id, user.session_generation
    except AppError as exc:
        return page(request, "invitation.html", signed_in, title="Invitation",
                    status_code=exc.status, problem=exc.message, invitation=None)
    if signed_in is None:
        sessions.start(request, user_id, generation)
    sessions.switch_company(request, company_id)
    sessions.flash(request, "Welcome: you are a member now.")
    return see_other("/")


def _accepting(session: Session, row: Invitation, signed_in: WebUser | None, *, name: str,
               password: str) -> User:
    if signed_in is not None:
        user = session.get(User, signed_in.id)
        assert user is not None
        return user
    if users.any_user_with(session, row.email):
        raise Invalid(f"Sign in as {row.email} first, then open this link again.")
    return users.create_user(session, company_id=row.company_id, email=row.email,
                             password=password, name=name, role=row.role,
                             account_ids=row.account_ids)
