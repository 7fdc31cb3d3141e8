"""Retrying a post's first comment alone: the post stays `published`, a worker comments.

The comment step itself is herald.first_comment; this use case only checks that there is a
failed comment to retry and puts the post's queue row back (queue.requeue_follow_up), so
the retry is claimed, journaled and rescued like any attempt, and reconciles first: it
never comments twice.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald import first_comment, queue
from herald.errors import Conflict
from herald.models import Post, PublishAttempt
from herald.permissions import Permission
from herald.services import audit, gates
from herald.services.context import Context
from herald.services.posts import get_post
from herald.statuses import PostStatus


def retry_first_comment(session: Session, ctx: Context, post_id: str) -> Post:
    """Queue the first comment of a published post again (409 unless it failed)."""
    post = get_post(session, ctx, post_id)
    gates.require_author(ctx, post)
    ctx.require(Permission.SCHEDULE)
    if first_comment.text_of(post.options) is None:
        raise Conflict("This post has no first comment to retry.")
    if post.status != PostStatus.PUBLISHED:
        raise Conflict(f"The post is {post.status}; its first comment follows it once it is "
                       "published (retry the post itself if it failed).")
    ids = session.scalars(select(PublishAttempt.platform_ids)
                          .where(PublishAttempt.post_id == post.id)
                          .order_by(PublishAttempt.attempt)).all()
    state = first_comment.state_of(post.options, ids)
    if state is None or state.status != first_comment.FAILED:
        raise Conflict(f"The first comment is {state.status if state else 'missing'}; only "
                       "a failed first comment can be retried.")
    if not queue.requeue_follow_up(session.connection(), post_id=post.id, now=ctx.now(),
                                   extra_attempts=ctx.max_attempts):
        raise Conflict("The post is being worked on; retry the comment once it is done.")
    before = audit.post_state(post)
    post.updated_at = ctx.now()
    audit.record_post_change(session, ctx, audit.Action.COMMENT_RETRIED, post, before)
    return post
