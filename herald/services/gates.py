"""What a caller's role lets them do to posts: the checks the post use cases share.

Kept apart from herald.services.posts so that the permission rules for posts read in one
place: who may write, who may schedule, and when a post goes to approval instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.errors import Forbidden, Invalid
from herald.models import Company, Post
from herald.permissions import Permission
from herald.schemas import PostOut
from herald.services.context import Context
from herald.statuses import PostStatus

#: As services.posts.PAST_TOLERANCE: a time this far behind is in the past.
LATE_AFTER = timedelta(seconds=5)
#: The approval steps (contract): the team's, then the client's where the company wants it.
INTERNAL, CLIENT = "internal", "client"
STEPS = (INTERNAL, CLIENT)


def require_author(ctx: Context, post: Post) -> None:
    """One's own posts need `create_posts`; someone else's need `edit_others_posts`."""
    ctx.require(Permission.CREATE_POSTS)
    ctx.require_account(post.account_id)
    if post.created_by is None or post.created_by != ctx.actor:
        ctx.require(Permission.EDIT_OTHERS)


def company_requires_approval(session: Session, ctx: Context) -> bool:
    """Whether the company asks approval for every account (read only when it matters)."""
    if ctx.may(Permission.SCHEDULE):
        return False  # those who may schedule never wait for approval
    found = session.execute(select(Company.requires_approval)
                            .where(Company.id == ctx.company_id)).scalar_one_or_none()
    return bool(found)


def parse_steps(value: Sequence[str]) -> list[str]:
    """A company's approval steps: ["internal"], or ["internal", "client"]."""
    steps = [str(step).strip().lower() for step in value]
    if steps not in ([INTERNAL], [INTERNAL, CLIENT]):
        raise Invalid(f"approval_steps {list(value)!r} is not a list of steps Herald has: use "
                      '["internal"] (the team approves) or ["internal", "client"] (the team, '
                      "then the client)")
    return steps


def company_steps(session: Session, company_id: str) -> list[str]:
    """The steps a post of the company goes through before it is scheduled."""
    found = session.execute(select(Company.approval_steps)
                            .where(Company.id == company_id)).scalar_one_or_none()
    return list(found) if found else [INTERNAL]


def require_targets(ctx: Context, account_ids: Iterable[str]) -> None:
    ctx.require(Permission.CREATE_POSTS)
    for account_id in account_ids:
        ctx.require_account(account_id)


def scheduled_status(ctx: Context, account: Any, *, company_approval: bool,
                     run_at: datetime, now: datetime) -> PostStatus:
    """The status of a post this caller schedules on `account` at `run_at`.

    `pending` for a role that may schedule (and, for a time due at once, publish now);
    `awaiting_approval` for one that may not, where the account or the company requires
    approval; otherwise Forbidden, naming the permission.
    """
    if ctx.may(Permission.SCHEDULE):
        if run_at <= now:
            ctx.require(Permission.PUBLISH_NOW)
        return PostStatus.PENDING
    if run_at <= now:
        ctx.require(Permission.PUBLISH_NOW)
    if company_approval or getattr(account, "requires_approval", False):
        return PostStatus.AWAITING_APPROVAL
    raise Forbidden(
        f"This needs the permission '{Permission.SCHEDULE}', which the role '{ctx.role}' "
        "does not have: save the post as a draft, or ask an owner to require approval for "
        "this account, so that your posts go to an approver.", permission=Permission.SCHEDULE)


def late_note(scheduled_at: datetime | None) -> str:
    when = scheduled_at.isoformat(timespec="minutes") if scheduled_at else "its time"
    return (f"Its time ({when}) passed while it waited for approval, so it was not "
            "published; approve it with a new time, or edit its time.")


def mark_late(post: PostOut, now: datetime) -> PostOut:
    """Say so on a post whose time passed while it waited for approval (it is not sent)."""
    if (post.status == PostStatus.AWAITING_APPROVAL and post.run_at is not None
            and post.run_at < now - LATE_AFTER):
        post.review_note = late_note(post.run_at)
    return post
