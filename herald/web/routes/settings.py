"""Settings: the user's time zone, the company's API tokens and members."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response

from herald import services
from herald.errors import AppError, NotFound
from herald.runtime import Herald
from herald.services import calendar_feed
from herald.web import queries, sessions, users
from herald.web.deps import HeraldDep, UserDep, WebUser
from herald.web.localtime import zone_names
from herald.web.render import page
from herald.web.routes import see_other, web_router

router = web_router()


def _page(request: Request, herald: Herald, user: WebUser, *, status_code: int = 200,
          **values: Any) -> Response:
    with herald.db.session() as session:
        tokens = queries.company_tokens(session, user.company_id)
        members = users.list_members(session, company_id=user.company_id)
        feed_since = calendar_feed.feed_created_at(session, user_id=user.id)
    context: dict[str, Any] = {"values": {"timezone": user.timezone}, "errors": {},
                               "new_token": None, "new_feed": None, "feed_since": feed_since}
    context.update(values)
    return page(request, "settings.html", user, title="Settings", active="settings",
                tokens=tokens, members=members, zones=zone_names(), status_code=status_code,
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


@router.post("/settings/tokens")
def create_token(request: Request, herald: HeraldDep, user: UserDep,
                 name: Annotated[str, Form()] = "") -> Response:
    name = name.strip()
    if not name or len(name) > 200:
        return _page(request, herald, user, status_code=422, values={
            "timezone": user.timezone, "token_name": name},
            errors={"token": "Name the token (what uses it, e.g. “CI deploys”), "
                             "in at most 200 characters."})
    with herald.unit_of_work() as session:
        token = services.create_api_token(session, company_id=user.company_id, name=name)
    # Shown once, in this answer only: it is stored hashed and no page can show it again.
    response = _page(request, herald, user, new_token={"name": name, "token": token})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: str, herald: HeraldDep, user: UserDep
                 ) -> Response:
    with herald.unit_of_work() as session:
        row = queries.company_token(session, user.company_id, token_id)
        if row is None:
            raise NotFound()
        services.revoke_api_token(session, token=row.id)
        name = row.name or row.prefix
    sessions.flash(request, f"The token “{name}” is revoked.")
    return see_other("/settings")


@router.post("/settings/members")
def add_member(request: Request, herald: HeraldDep, user: UserDep,
               email: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
               password: Annotated[str, Form()] = "") -> Response:
    try:
        with herald.unit_of_work() as session:
            users.create_user(session, company_id=user.company_id, email=email,
                              password=password, name=name)
    except AppError as exc:
        return _page(request, herald, user, status_code=exc.status,
                     values={"timezone": user.timezone, "member_email": email,
                             "member_name": name},
                     errors={"member": exc.message})
    sessions.flash(request, f"Added {email.strip()}; they can sign in with the password you "
                            "gave them.")
    return see_other("/settings")
