"""A post's thread on its page: add a comment (with @mentions), delete one's own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from herald.errors import AppError
from herald.services import comments
from herald.web import sessions
from herald.web.deps import ContextDep, HeraldDep, UserDep
from herald.web.routes import see_other, web_router

router = web_router()


def _thread(post_id: str) -> str:
    return f"/posts/{post_id}#comments"


@router.post("/posts/{post_id}/comments")
def add(request: Request, post_id: str, herald: HeraldDep, user: UserDep, ctx: ContextDep,
        body: Annotated[str, Form()] = "") -> Response:
    try:
        with herald.unit_of_work() as session:
            comments.add_comment(session, ctx, post_id, body)
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        sessions.flash(request, exc.message, "error")
        return see_other(_thread(post_id))
    sessions.flash(request, "Comment added.")
    return see_other(_thread(post_id))


@router.post("/posts/{post_id}/comments/{comment_id}/delete")
def delete(request: Request, post_id: str, comment_id: str, herald: HeraldDep,
           user: UserDep, ctx: ContextDep) -> Response:
    with herald.unit_of_work() as session:
        comments.delete_comment(session, ctx, post_id, comment_id)
    sessions.flash(request, "Comment deleted.")
    return see_other(_thread(post_id))
