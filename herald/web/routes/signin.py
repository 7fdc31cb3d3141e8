"""Sign in and sign out; failed sign-ins are throttled (herald/web/throttle.py)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from herald.errors import Unauthorized
from herald.models import utcnow
from herald.web import sessions, throttle, users
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
    limits = throttle.Limits.from_settings(herald.settings)
    address = request.client.host if request.client else None
    user_id: str | None = None
    generation = 0
    refused: Unauthorized | None = None
    now = utcnow()
    with herald.db.session() as session:
        wait = throttle.wait_seconds(session, limits, email=email, address=address, now=now)
        if wait is None:
            try:
                user = users.authenticate(session, email=email, password=password)
                user_id, generation = user.id, user.session_generation
            except Unauthorized as exc:
                refused = exc
                throttle.record_failure(session, limits, email=email, address=address, now=now)
            else:
                throttle.reset(session, email=email)
    if wait is not None:
        return _throttled(request, values, wait)
    if user_id is None:
        assert refused is not None
        return page(request, "signin.html", title="Sign in", first_run=False,
                    status_code=401, values=values, errors={"form": refused.message})
    sessions.start(request, user_id, generation)
    return see_other(values["next"])


def _throttled(request: Request, values: dict[str, str], wait: float) -> Response:
    minutes = max(1, math.ceil(wait / 60))
    # The same words whether or not the email has an account.
    response = page(request, "signin.html", title="Sign in", first_run=False, status_code=429,
                    values=values, errors={"form": (
                        "Too many failed sign-ins. For your safety, wait "
                        f"{minutes} minute{'s' if minutes > 1 else ''} and try again.")})
    response.headers["Retry-After"] = str(math.ceil(wait))
    return response


@router.post("/signout")
def signout(request: Request, herald: HeraldDep) -> Response:
    # Signs this member out of every browser: the cookie alone could be replayed.
    user_id, generation = request.session.get("user_id"), sessions.generation(request)
    if isinstance(user_id, str) and generation is not None:
        with herald.unit_of_work() as session:
            users.end_sessions(session, user_id=user_id, generation=generation)
    sessions.end(request)
    sessions.flash(request, "You are signed out.")
    return see_other("/signin")
