"""Approvals: a post awaiting approval is queued when approved, back to draft when rejected.

An approval names the revision it saw (the post's `revision`, one more at every edit) and
is one conditional UPDATE on (status, revision): an edit that lands first makes it match
nothing (409), and an edit that comes after finds the post queued and, if its author's
edits need approval, takes it out of the queue again (services.posts.update_post). So an
edited version is never published on an approval of the version before.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from herald import queue
from herald.errors import Conflict, Invalid
from herald.models import Post, SocialAccount
from herald.permissions import Permission
from herald.services import audit
from herald.services.context import Context
from herald.services.gates import late_note
from herald.services.posts import PAST_TOLERANCE, _resolve_run_at, get_post
from herald.statuses import PostStatus

AWAITING = PostStatus.AWAITING_APPROVAL


def approve_post(session: Session, ctx: Context, post_id: str, *,
                 revision: int | None = None,
                 run_at: datetime | str | None = None) -> Post:
    """Queue a post awaiting approval, at its time (or `run_at`), if it is still `revision`."""
    ctx.require(Permission.APPROVE)
    post = get_post(session, ctx, post_id)
    if post.status != AWAITING:
        raise Conflict(f"The post is {post.status}; only a post awaiting approval can be "
                       "approved.")
    now = ctx.now()
    before = audit.post_state(post)
    when = _resolve_run_at(ctx, run_at) if run_at is not None else post.scheduled_at
    if when is None or when < now - PAST_TOLERANCE:
        raise Conflict(late_note(post.scheduled_at))
    when = max(when, now)
    seen = post.revision if revision is None else revision
    approved = session.connection().execute(
        update(Post)
        .where(Post.id == post.id, Post.status == AWAITING, Post.revision == seen)
        .values(status=PostStatus.PENDING, scheduled_at=when, approved_by=ctx.actor,
                approved_at=now, review_note=None, updated_at=now))
    if approved.rowcount != 1:
        raise Conflict(f"The post changed after the version you approved (revision {seen}); "
                       "read it again and approve what it says now.")
    backoff = session.scalars(select(SocialAccount.backoff_until)
                              .where(SocialAccount.id == post.account_id)).first()
    queue.enqueue(session.connection(), post_id=post.id,
                  run_at=backoff if backoff is not None and backoff > when else when,
                  max_attempts=ctx.max_attempts, now=now)
    session.refresh(post)
    audit.record_post_change(session, ctx, audit.Action.POST_APPROVED, post, before)
    return post


def reject_post(session: Session, ctx: Context, post_id: str, *, reason: str,
                revision: int | None = None) -> Post:
    """Send a post awaiting approval back to draft, with the reason for its author."""
    ctx.require(Permission.APPROVE)
    reason = reason.strip()
    if not reason:
        raise Invalid("Say why the post is rejected, so its author can fix it.")
    post = get_post(session, ctx, post_id)
    if post.status != AWAITING:
        raise Conflict(f"The post is {post.status}; only a post awaiting approval can be "
                       "rejected.")
    seen = post.revision if revision is None else revision
    before = audit.post_state(post)
    rejected = session.connection().execute(
        update(Post)
        .where(Post.id == post.id, Post.status == AWAITING, Post.revision == seen)
        .values(status=PostStatus.DRAFT, review_note=reason, approved_by=None,
                approved_at=None, updated_at=ctx.now()))
    if rejected.rowcount != 1:
        raise Conflict(f"The post changed after the version you rejected (revision {seen}); "
                       "read it again.")
    session.refresh(post)
    audit.record_post_change(session, ctx, audit.Action.POST_REJECTED, post, before)
    return post


def awaiting(session: Session, ctx: Context, *, limit: int = 200) -> list[Post]:
    """The approvers' inbox: posts awaiting approval, soonest first."""
    ctx.require(Permission.APPROVE)
    stmt = (select(Post).where(Post.company_id == ctx.company_id, Post.status == AWAITING)
            .order_by(Post.scheduled_at, Post.id).limit(limit))
    if ctx.account_ids is not None:
        stmt = stmt.where(Post.account_id.in_(sorted(ctx.account_ids)))
    return list(session.scalars(stmt))
