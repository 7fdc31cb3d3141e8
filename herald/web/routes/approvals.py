"""The approvals inbox: posts awaiting approval, each with approve and reject."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from herald import services
from herald.errors import AppError, Conflict
from herald.web import queries, sessions
from herald.web.deps import ContextDep, HeraldDep, UserDep
from herald.web.render import page
from herald.web.routes import see_other, web_router

router = web_router()


@router.get("/approvals")
def inbox(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep) -> Response:
    with herald.db.session() as session:
        posts = services.awaiting(session, ctx)
        accounts = queries.accounts_by_id(session, user.company_id)
    return page(request, "approvals.html", user, title="Approvals", active="approvals",
                posts=posts, accounts=accounts, now=ctx.now())


def _revision(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _back(next_url: str, post_id: str) -> str:
    return "/approvals" if next_url == "/approvals" else f"/posts/{post_id}"


@router.post("/posts/{post_id}/approve")
def approve(request: Request, post_id: str, herald: HeraldDep, ctx: ContextDep,
            revision: Annotated[str, Form()] = "",
            next: Annotated[str, Form()] = "") -> Response:
    try:
        with herald.unit_of_work() as session:
            post = services.approve_post(session, ctx, post_id, revision=_revision(revision))
            waiting = post.status == "awaiting_approval"
    except Conflict as exc:
        sessions.flash(request, exc.message, "error")
        return see_other(_back(next, post_id))
    sessions.flash(request, "Approved: it now waits for the client's approval." if waiting
                   else "Approved: it is scheduled.")
    return see_other(_back(next, post_id))


@router.post("/posts/{post_id}/reject")
def reject(request: Request, post_id: str, herald: HeraldDep, ctx: ContextDep,
           reason: Annotated[str, Form()] = "", revision: Annotated[str, Form()] = "",
           next: Annotated[str, Form()] = "") -> Response:
    try:
        with herald.unit_of_work() as session:
            services.reject_post(session, ctx, post_id, reason=reason,
                                 revision=_revision(revision))
    except AppError as exc:
        if exc.status == 403:
            raise
        sessions.flash(request, exc.message, "error")
        return see_other(_back(next, post_id))
    sessions.flash(request, "Rejected: it is back with its author as a draft.")
    return see_other(_back(next, post_id))
