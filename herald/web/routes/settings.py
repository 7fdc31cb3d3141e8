"""Settings: the user's time zone, the company's API tokens and members."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response

from herald import services
from herald.errors import AppError
from herald.models import utcnow
from herald.notifications.channels import Smtp
from herald.permissions import ROLE_NAMES, Permission, Role
from herald.runtime import Herald
from herald.services import calendar_feed, invitations
from herald.web import queries, sessions, users
from herald.web.deps import ContextDep, HeraldDep, UserDep, WebUser, web_context
from herald.web.localtime import zone_names
from herald.web.render import page
from herald.web.routes import see_other, web_router

router = web_router()


def _page(request: Request, herald: Herald, user: WebUser, *, status_code: int = 200,
          **values: Any) -> Response:
    ctx = web_context(herald, user)
    with herald.db.session() as session:
        tokens = (queries.company_tokens(session, user.company_id)
                  if user.may(Permission.MANAGE_TOKENS) else [])
        members = services.list_members(session, ctx)
        feed_since = calendar_feed.feed_created_at(session, user_id=user.id)
        company = services.get_company(session, ctx)
        accounts = queries.accounts_by_id(session, user.company_id)
        now = utcnow()
        invited = ([(i, invitations.status(i, now).value)
                    for i in invitations.list_invitations(session, ctx)]
                   if user.may(Permission.MANAGE_MEMBERS) else [])
    context: dict[str, Any] = {"values": {"timezone": user.timezone}, "errors": {},
                               "new_token": None, "new_feed": None, "feed_since": feed_since,
                               "new_invitation": None, "invitations": invited}
    context.update(values)
    return page(request, "settings.html", user, title="Settings", active="settings",
                tokens=tokens, members=members, zones=zone_names(), status_code=status_code,
                roles=ROLE_NAMES, company=company, accounts=accounts,
                **context)


@router.get("/settings")
def settings_page(request: Request, herald: HeraldDep, user: UserDep) -> Response:
    return _page(request, herald, user)


@router.post("/settings/timezone")
def set_timezone(request: Request, herald: HeraldDep, user: UserDep,
                 timezone: Annotated[str, Form()] = "") -> Response:
    try:
        with herald.unit_of_work() as session:
            users.set_timezone(session, user_id=user.id, timezone=timezone)
    except AppError as exc:
        return _page(request, herald, user, status_code=exc.status,
                     values={"timezone": timezone}, errors={"timezone": exc.message})
    sessions.flash(request, f"Times are now shown in {timezone.strip()}.")
    return see_other("/settings")


@router.post("/settings/approval")
def set_company_approval(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
                         requires_approval: Annotated[str, Form()] = "",
                         client_step: Annotated[str, Form()] = "") -> Response:
    on = requires_approval == "on"
    steps = ["internal", "client"] if client_step == "on" else ["internal"]
    with herald.unit_of_work() as session:
        services.update_company_settings(session, ctx, requires_approval=on,
                                         approval_steps=steps)
    said = ("Posts by contributors now need approval on every account." if on
            else "Approval is now set per account.")
    if len(steps) > 1:
        said += " The client approves after the team."
    sessions.flash(request, said)
    return see_other("/settings")


@router.post("/settings/tokens")
def create_token(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
                 name: Annotated[str, Form()] = "",
                 role: Annotated[str, Form()] = Role.OWNER.value) -> Response:
    name = name.strip()
    if not name or len(name) > 200:
        return _page(request, herald, user, status_code=422, values={
            "timezone": user.timezone, "token_name": name},
            errors={"token": "Name the token (what uses it, e.g. “CI deploys”), "
                             "in at most 200 characters."})
    try:
        with herald.unit_of_work() as session:
            token = services.issue_api_token(session, ctx, name=name, role=role)
    except AppError as exc:
        return _page(request, herald, user, status_code=exc.status, values={
            "timezone": user.timezone, "token_name": name}, errors={"token": exc.message})
    # Shown once, in this answer only: it is stored hashed and no page can show it again.
    response = _page(request, herald, user, new_token={"name": name, "token": token})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: str, herald: HeraldDep, ctx: ContextDep
                 ) -> Response:
    with herald.unit_of_work() as session:
        row = services.revoke_company_token(session, ctx, token_id)
        name = row.name or row.prefix
    sessions.flash(request, f"The token “{name}” is revoked.")
    return see_other("/settings")


@router.post("/settings/members")
def add_member(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
               email: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
               password: Annotated[str, Form()] = "",
               role: Annotated[str, Form()] = "",
               limited: Annotated[str, Form()] = "",
               account_ids: Annotated[list[str] | None, Form()] = None) -> Response:
    try:
        with herald.unit_of_work() as session:
            services.add_member(session, ctx, email=email, password=password, name=name,
                                role=role or None,
                                account_ids=(account_ids or []) if limited == "on" else None)
    except AppError as exc:
        return _page(request, herald, user, status_code=exc.status,
                     values={"timezone": user.timezone, "member_email": email,
                             "member_name": name},
                     errors={"member": exc.message})
    sessions.flash(request, f"Added {email.strip()}; they can sign in with the password you "
                            "gave them.")
    return see_other("/settings")


@router.post("/settings/members/{member_id}/role")
def set_member_role(request: Request, member_id: str, herald: HeraldDep, ctx: ContextDep,
                    role: Annotated[str, Form()] = "") -> Response:
    with herald.unit_of_work() as session:
        member = services.set_role(session, ctx, member_id, role)
        email = member.email
    sessions.flash(request, f"{email} is now {role.strip().lower()}.")
    return see_other("/settings")


@router.post("/settings/members/{member_id}/remove")
def remove_member(request: Request, member_id: str, herald: HeraldDep, ctx: ContextDep
                  ) -> Response:
    with herald.unit_of_work() as session:
        email = services.remove_member(session, ctx, member_id).email
    sessions.flash(request, f"Removed {email}; their sessions have ended.")
    return see_other("/settings")


@router.post("/settings/invitations")
def invite(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
           email: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "editor"
           ) -> Response:
    try:
        with herald.unit_of_work() as session:
            new = invitations.invite(session, ctx, email=email, role=role)
            company = invitations.company_name(session, new.invitation)
    except AppError as exc:
        return _page(request, herald, user, status_code=exc.status,
                     values={"timezone": user.timezone, "invite_email": email},
                     errors={"invite": exc.message})
    # After the commit: the e-mail is a network call.
    problem = invitations.send(Smtp.from_settings(herald.settings), new, company=company,
                               public_url=herald.settings.public_url)
    response = _page(request, herald, user, new_invitation={
        "email": new.invitation.email, "email_error": problem,
        "url": invitations.invitation_url(herald.settings.public_url, new.token)})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/settings/invitations/{invitation_id}/revoke")
def revoke_invitation(request: Request, invitation_id: str, herald: HeraldDep,
                      ctx: ContextDep) -> Response:
    with herald.unit_of_work() as session:
        email = invitations.revoke(session, ctx, invitation_id).email
    sessions.flash(request, f"The invitation of {email} is revoked.")
    return see_other("/settings")
