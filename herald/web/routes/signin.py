"""Sign in and sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from herald.errors import Unauthorized
from herald.web import sessions, users
from herald.web.deps import HeraldDep, safe_next
from herald.web.render import page
from herald.web.routes import see_other, web_router

router = web_router()


@router.get("/signin")
def signin_form(request: Request, herald: HeraldDep, next: str = "/") -> Response:
    if request.session.get("user_id"):
        return see_other(safe_next(next))
    with herald.db.session() as session:
        first_run = not users.any_users(session)
    return page(request, "signin.html", title="Sign in", first_run=first_run,
                values={"email": "", "next": safe_next(next)})


@router.post("/signin")
def signin(request: Request, herald: HeraldDep, email: Annotated[str, Form()] = "",
           password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
           ) -> Response:
    values = {"email": email, "next": safe_next(next)}
    if not email.strip() or not password:
        return page(request, "signin.html", title="Sign in", first_run=False,
                    status_code=422, values=values,
                    errors={"form": "Enter your email and your password."})
    try:
        with herald.db.session() as session:
            user_id = users.authenticate(session, email=email, password=password).id
    except Unauthorized as exc:
        return page(request, "signin.html", title="Sign in", first_run=False,
                    status_code=401, values=values, errors={"form": exc.message})
    sessions.start(request, user_id)
    return see_other(values["next"])


@router.post("/signout")
def signout(request: Request) -> Response:
    sessions.end(request)
    sessions.flash(request, "You are signed out.")
    return see_other("/signin")
