"""Approvals: a post awaiting approval is queued when approved, back to draft when rejected.

An approval names the revision it saw (the post's `revision`, one more at every edit) and
is one conditional UPDATE on (status, revision): an edit that lands first makes it match
nothing (409), and an edit that comes after finds the post queued and, if its author's
edits need approval, takes it out of the queue again (services.posts.update_post). So an
edited version is never published on an approval of the version before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from herald import queue
from herald.errors import Conflict, Invalid
from herald.models import Post, SocialAccount
from herald.permissions import Permission, Role
from herald.services import audit
from herald.services.context import Context
from herald.services.gates import CLIENT, INTERNAL, STEPS, company_steps, late_note
from herald.services.posts import PAST_TOLERANCE, _resolve_run_at, get_post
from herald.statuses import PostStatus

AWAITING = PostStatus.AWAITING_APPROVAL


def _current_step(post: Post, steps: list[str]) -> str:
    """The step the post waits at (stored once a step is passed; the first before)."""
    step = post.approval_step or steps[0]
    # The company dropped the step it waited at: it waits at the first one again.
    return step if step in steps else steps[0]


def _acting_step(ctx: Context, steps: list[str], step: str | None) -> str:
    """The step this caller approves at: a client's is the client step where the company
    has one, else (one internal step) that step, as before steps existed."""
    capacity = step or (CLIENT if ctx.role == Role.CLIENT else INTERNAL)
    return capacity if capacity in steps else INTERNAL


def _check_step(step: str | None) -> None:
    if step is not None and step not in STEPS:
        raise Invalid(f"step must be one of {', '.join(STEPS)}, not {step!r}")


def _wrong_step(at: str) -> Conflict:
    if at == CLIENT:
        return Conflict("The post was approved by the team and now waits for the client's "
                        "approval: a client approves it (a member or token with the role "
                        "'client', or a review link).")
    return Conflict("The post waits for the team's approval first (an owner, admin or "
                    "editor); the client approves after it.")


def _at_step(at: str) -> Any:
    """The post still waits at `at` (NULL is the first step, the internal one)."""
    if at == INTERNAL:
        return or_(Post.approval_step.is_(None), Post.approval_step == INTERNAL)
    return Post.approval_step == at


def approve_post(session: Session, ctx: Context, post_id: str, *,
                 revision: int | None = None, run_at: datetime | str | None = None,
                 step: str | None = None) -> Post:
    """Approve a post awaiting approval, if it is still `revision`: at the last step it is
    queued at its time (or `run_at`); at an earlier one it waits for the next step.

    `step`: the capacity the caller approves in ("client" for a review link); None: the
    caller's role says (a client's role is the client step).
    """
    ctx.require(Permission.APPROVE)
    _check_step(step)
    post = get_post(session, ctx, post_id)
    if post.status != AWAITING:
        raise Conflict(f"The post is {post.status}; only a post awaiting approval can be "
                       "approved.")
    steps = company_steps(session, ctx.company_id)
    at = _current_step(post, steps)
    if _acting_step(ctx, steps, step) != at:
        raise _wrong_step(at)
    now = ctx.now()
    before = audit.post_state(post)
    when = _resolve_run_at(ctx, run_at) if run_at is not None else post.scheduled_at
    if when is None or when < now - PAST_TOLERANCE:
        raise Conflict(late_note(post.scheduled_at))
    when = max(when, now)
    seen = post.revision if revision is None else revision
    later = steps[steps.index(at) + 1:]
    values: dict[str, Any] = dict(scheduled_at=when, approved_by=ctx.actor, approved_at=now,
                                  review_note=None, updated_at=now)
    if later:
        values.update(approval_step=later[0])
    else:
        values.update(status=PostStatus.PENDING, approval_step=None)
    approved = session.connection().execute(
        update(Post)
        .where(Post.id == post.id, Post.status == AWAITING, Post.revision == seen,
               _at_step(at))
        .values(**values))
    if approved.rowcount != 1:
        raise Conflict(f"The post changed after the version you approved (revision {seen}); "
                       "read it again and approve what it says now.")
    if not later:
        _enqueue(session, ctx, post, when, now)
    session.refresh(post)
    audit.record_post_change(session, ctx, audit.Action.POST_APPROVED, post, before)
    return post


#: The name review links call: approve(session, ctx, post_id, step="client", revision=…).
approve = approve_post


def _enqueue(session: Session, ctx: Context, post: Post, when: datetime,
             now: datetime) -> None:
    backoff = session.scalars(select(SocialAccount.backoff_until)
                              .where(SocialAccount.id == post.account_id)).first()
    queue.enqueue(session.connection(), post_id=post.id,
                  run_at=backoff if backoff is not None and backoff > when else when,
                  max_attempts=ctx.max_attempts, now=now)


def reject_post(session: Session, ctx: Context, post_id: str, *, reason: str,
                revision: int | None = None, step: str | None = None) -> Post:
    """Send a post awaiting approval back to draft, with the reason for its author.

    The team may reject at any step; a client (`step` "client", or the role) only at
    the client's step, or at the one step of a company without one.
    """
    ctx.require(Permission.APPROVE)
    reason = reason.strip()
    if not reason:
        raise Invalid("Say why the post is rejected, so its author can fix it.")
    _check_step(step)
    post = get_post(session, ctx, post_id)
    if post.status != AWAITING:
        raise Conflict(f"The post is {post.status}; only a post awaiting approval can be "
                       "rejected.")
    steps = company_steps(session, ctx.company_id)
    at = _current_step(post, steps)
    acting = _acting_step(ctx, steps, step)
    if acting == CLIENT and at != CLIENT:
        raise _wrong_step(at)
    seen = post.revision if revision is None else revision
    before = audit.post_state(post)
    rejected = session.connection().execute(
        update(Post)
        .where(Post.id == post.id, Post.status == AWAITING, Post.revision == seen)
        .values(status=PostStatus.DRAFT, review_note=reason, approved_by=None,
                approved_at=None, approval_step=None, updated_at=ctx.now()))
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
