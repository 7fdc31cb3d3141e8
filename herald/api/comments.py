"""A post's thread: its comments, a new one (with @mentions that notify), deleting one's own."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.schemas import CommentIn, CommentOut
from herald.services import comments

router = APIRouter(prefix="/posts", tags=["comments"], responses=documented(401, 403, 404, 422))


class CommentList(BaseModel):
    items: list[CommentOut]


@router.get("/{post_id}/comments")
def list_comments(post_id: str, herald: HeraldDep, ctx: ContextDep) -> CommentList:
    """The post's comments, oldest first."""
    with herald.db.session() as session:
        found = comments.thread(session, ctx, post_id)
        return CommentList(items=[CommentOut.model_validate(c) for c in found])


@router.post("/{post_id}/comments", status_code=201, responses=documented(400, 413))
def add_comment(post_id: str, body: CommentIn, herald: HeraldDep, ctx: ContextDep
                ) -> CommentOut:
    """`{"body": "…"}`; `@ann@example.com` (or `@ann`) mentions a member, who is told."""
    with herald.unit_of_work() as session:
        comment = comments.add_comment(session, ctx, post_id, body.body)
        return CommentOut.model_validate(comment)


@router.delete("/{post_id}/comments/{comment_id}", status_code=204)
def delete_comment(post_id: str, comment_id: str, herald: HeraldDep, ctx: ContextDep
                   ) -> Response:
    """Only its author deletes a comment (403 naming `comment_author` otherwise)."""
    with herald.unit_of_work() as session:
        comments.delete_comment(session, ctx, post_id, comment_id)
    return Response(status_code=204)
