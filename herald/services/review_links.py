"""Client review links: a secret URL that shows some posts to a client without an account
and lets the client approve, reject or comment; expiring, revocable, every use audited.

The secret is 256 random bits, shown once and stored as its SHA-256 (like API tokens), so
a link is found by the hash of what was presented and a tampered secret finds nothing. A
link shows listed posts, a composed post's group, or the posts due in a date range; each
action names a post, and a post outside the link's posts is not found (404) for it. The
client acts with the role `client` as the actor "review link <id> (<name typed>)", through
the same approvals and comments services as the team (nothing here changes a post's
status or writes a comment itself).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from herald.crypto import hash_api_token
from herald.errors import Gone, Invalid, NotFound
from herald.models import Post, PostComment, ReviewLink
from herald.permissions import Permission, Role
from herald.services import approvals, audit, comments
from herald.services.context import Context
from herald.services.gates import CLIENT, company_steps
from herald.services.posts import get_post
from herald.statuses import PostStatus

#: How long a link lasts when its maker names no expiry, and the longest it may.
DEFAULT_LIFETIME, MAX_LIFETIME = timedelta(days=14), timedelta(days=90)
#: The widest date range and the most posts one link may list.
MAX_RANGE, MAX_POSTS = timedelta(days=92), 100
#: The most posts a link shows (a date range of a busy company).
MAX_SHOWN = 300
#: A client's name as it appears in the audit log (its actor column holds 100).
NAME_MAX = 40
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Scope:
    """What a link shows: listed posts, a group's posts, or those due in [at_from, at_to)."""

    post_ids: tuple[str, ...] = ()
    group_id: str | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None


def url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/review/{token}"


def state(link: ReviewLink, now: datetime) -> str:
    """"active", "expired" or "revoked"."""
    if link.revoked_at is not None:
        return "revoked"
    return "expired" if link.expires_at <= now else "active"


def _lifetime(expires_at: datetime | None, now: datetime) -> datetime:
    if expires_at is None:
        return now + DEFAULT_LIFETIME
    if expires_at.tzinfo is None:
        raise Invalid("expires_at has no timezone; add an offset, e.g. "
                      "'2026-12-01T09:00:00+01:00' or a trailing 'Z'.")
    if expires_at <= now:
        raise Invalid("expires_at has passed; pick a time in the future.")
    if expires_at > now + MAX_LIFETIME:
        raise Invalid(f"A review link lasts at most {MAX_LIFETIME.days} days; pick an "
                      "earlier expires_at (and make a new link when it runs out).")
    return expires_at


def _checked_scope(session: Session, ctx: Context, scope: Scope) -> Scope:
    given = [bool(scope.post_ids), scope.group_id is not None,
             scope.at_from is not None or scope.at_to is not None]
    if sum(given) != 1:
        raise Invalid("Say what the link shows: post_ids, a group_id, or from and to "
                      "(one of the three).")
    if scope.post_ids:
        ids = tuple(dict.fromkeys(scope.post_ids))
        if len(ids) > MAX_POSTS:
            raise Invalid(f"A review link lists at most {MAX_POSTS} posts; use a date range.")
        for post_id in ids:
            get_post(session, ctx, post_id)  # 404 for another company's or an unseen post
        return Scope(post_ids=ids)
    if scope.group_id is not None:
        found = session.scalar(_visible(select(Post.id), ctx)
                               .where(Post.group_id == scope.group_id).limit(1))
        if found is None:
            raise NotFound(f"No posts in the group {scope.group_id!r}.")
        return scope
    if scope.at_from is None or scope.at_to is None:
        raise Invalid("A date range needs both from and to.")
    if scope.at_to <= scope.at_from:
        raise Invalid("to must be after from.")
    if scope.at_to - scope.at_from > MAX_RANGE:
        raise Invalid(f"A review link's date range spans at most {MAX_RANGE.days} days.")
    return scope


def _visible(stmt: Select[tuple[str]], ctx: Context) -> Select[tuple[str]]:
    stmt = stmt.where(Post.company_id == ctx.company_id)
    if ctx.account_ids is not None:
        stmt = stmt.where(Post.account_id.in_(sorted(ctx.account_ids)))
    return stmt


def _summary(link: ReviewLink) -> dict[str, object]:
    return {"link_id": link.id, "post_ids": link.post_ids, "group_id": link.group_id,
            "from": link.at_from.isoformat() if link.at_from else None,
            "to": link.at_to.isoformat() if link.at_to else None,
            "expires_at": link.expires_at.isoformat()}


def create_link(session: Session, ctx: Context, scope: Scope, *,
                expires_at: datetime | None = None) -> tuple[ReviewLink, str]:
    """A new link and its secret (returned once: only its hash is kept)."""
    ctx.require(Permission.MANAGE_REVIEW_LINKS)
    now = ctx.now()
    until = _lifetime(expires_at, now)
    scope = _checked_scope(session, ctx, scope)
    token = secrets.token_urlsafe(32)
    link = ReviewLink(company_id=ctx.company_id, token_hash=hash_api_token(token),
                      post_ids=list(scope.post_ids) if scope.post_ids else None,
                      group_id=scope.group_id, at_from=scope.at_from, at_to=scope.at_to,
                      account_ids=sorted(ctx.account_ids) if ctx.account_ids is not None
                      else None, expires_at=until, created_by=(ctx.actor or "system")[:100],
                      created_at=now)
    session.add(link)
    session.flush()
    only = scope.post_ids[0] if len(scope.post_ids) == 1 else None
    audit.record(session, ctx, audit.Action.REVIEW_LINK_CREATED, post_id=only,
                 after=_summary(link))
    return link, token


def list_links(session: Session, ctx: Context, *, post_id: str | None = None,
               limit: int = 200) -> list[ReviewLink]:
    """The company's links, newest first; with `post_id`, those that show that post."""
    ctx.require(Permission.MANAGE_REVIEW_LINKS)
    stmt = (select(ReviewLink).where(ReviewLink.company_id == ctx.company_id)
            .order_by(ReviewLink.created_at.desc(), ReviewLink.id))
    links = list(session.scalars(stmt))
    if post_id is not None:
        post = get_post(session, ctx, post_id)
        links = [link for link in links if _covers(link, post)]
    return links[:limit]


def _covers(link: ReviewLink, post: Post) -> bool:
    if link.account_ids is not None and post.account_id not in link.account_ids:
        return False
    if link.post_ids is not None:
        return post.id in link.post_ids
    if link.group_id is not None:
        return post.group_id == link.group_id
    when = post.scheduled_at
    return (when is not None and link.at_from is not None and link.at_to is not None
            and link.at_from <= when < link.at_to
            and post.status not in (PostStatus.DRAFT, PostStatus.CANCELLED))


def get_link(session: Session, ctx: Context, link_id: str) -> ReviewLink:
    ctx.require(Permission.MANAGE_REVIEW_LINKS)
    link = session.get(ReviewLink, link_id)
    if link is None or link.company_id != ctx.company_id:
        raise NotFound(f"No review link {link_id!r}.")
    return link


def revoke_link(session: Session, ctx: Context, link_id: str) -> ReviewLink:
    """The link stops working at once (revoking it again changes nothing)."""
    link = get_link(session, ctx, link_id)
    if link.revoked_at is None:
        link.revoked_at = ctx.now()
        audit.record(session, ctx, audit.Action.REVIEW_LINK_REVOKED,
                     post_id=link.post_ids[0] if link.post_ids and len(link.post_ids) == 1
                     else None, before={"link_id": link.id, "state": "active"},
                     after={"link_id": link.id, "state": "revoked"})
    return link


def open_link(session: Session, token: str, *, now: datetime) -> ReviewLink:
    """The link this secret opens; 404 for none (a tampered secret), 410 once it is over."""
    # Found by the hash of 256 random bits: timing tells an attacker nothing useful.
    link = session.scalar(select(ReviewLink)
                          .where(ReviewLink.token_hash == hash_api_token(token)))
    if link is None:
        raise NotFound("There is no such review link. Check that the whole address was "
                       "copied, or ask whoever sent it for a new one.")
    if state(link, now) == "revoked":
        raise Gone("This review link was revoked; ask whoever sent it for a new one.")
    if state(link, now) == "expired":
        raise Gone(f"This review link expired on {link.expires_at:%d %b %Y at %H:%M} UTC; "
                   "ask whoever sent it for a new one.")
    return link


def acting(base: Context, link: ReviewLink, name: str | None = None) -> Context:
    """The context a client acts in through `link`: the role `client`, the link's company
    and accounts, the actor "review link <id>" with the name the client typed."""
    actor = f"review link {link.id}" + (f" ({name})" if name else "")
    return replace(base, company_id=link.company_id, actor=actor[:100], role=Role.CLIENT,
                   account_ids=frozenset(link.account_ids)
                   if link.account_ids is not None else None)


def client_name(value: str) -> str:
    """The name a client typed, tidied; refused when empty or too long."""
    name = _SPACES.sub(" ", "".join(c for c in value if c.isprintable())).strip()
    if not name:
        raise Invalid("Type your name, so the team knows who reviewed the post.")
    if len(name) > NAME_MAX:
        raise Invalid(f"Your name must fit in {NAME_MAX} characters.")
    return name


def _scoped(link: ReviewLink) -> Select[Post]:
    stmt = select(Post).where(Post.company_id == link.company_id,
                              Post.status != PostStatus.CANCELLED)
    if link.account_ids is not None:
        stmt = stmt.where(Post.account_id.in_(link.account_ids))
    if link.post_ids is not None:
        return stmt.where(Post.id.in_(link.post_ids))
    if link.group_id is not None:
        return stmt.where(Post.group_id == link.group_id)
    return stmt.where(Post.scheduled_at >= link.at_from, Post.scheduled_at < link.at_to,
                      Post.status != PostStatus.DRAFT)


def posts(session: Session, link: ReviewLink) -> list[Post]:
    """The posts the link shows, soonest first."""
    stmt = _scoped(link).order_by(Post.scheduled_at, Post.id).limit(MAX_SHOWN)
    return list(session.scalars(stmt))


def post_of(session: Session, link: ReviewLink, post_id: str) -> Post:
    """One of the link's posts; any other post is not found through it."""
    post = session.scalar(_scoped(link).where(Post.id == post_id))
    if post is None:
        raise NotFound("This post is not part of this review link.")
    return post


def record_open(session: Session, ctx: Context, link: ReviewLink) -> None:
    """A client opened the link: an audit entry, and the link's last use."""
    link.last_used_at = ctx.now()
    audit.record(session, ctx, audit.Action.REVIEW_LINK_OPENED, after={"link_id": link.id})


def approve(session: Session, ctx: Context, link: ReviewLink, post_id: str, *,
            revision: int | None = None) -> Post:
    """The client approves one of the link's posts (the approvals service decides)."""
    post_of(session, link, post_id)
    link.last_used_at = ctx.now()
    # The client step where the company has one; else the one step, as a client member's.
    return approvals.approve_post(session, ctx, post_id, revision=revision, step=CLIENT)


def waits_for_team(session: Session, link: ReviewLink, post: Post) -> bool:
    """Whether the post waits for the team's approval before the client's."""
    steps = company_steps(session, link.company_id)
    return (post.status == PostStatus.AWAITING_APPROVAL and CLIENT in steps
            and (post.approval_step or steps[0]) != CLIENT)


def comment(session: Session, ctx: Context, link: ReviewLink, post_id: str, *, name: str,
            body: str) -> PostComment:
    """The client comments on one of the link's posts (the comments service writes it)."""
    post_of(session, link, post_id)
    link.last_used_at = ctx.now()
    return comments.add_link_comment(session, ctx, post_id, link_id=link.id,
                                     author_name=name, body=body)


def thread(session: Session, ctx: Context, link: ReviewLink, post_id: str
           ) -> list[PostComment]:
    """The thread of one of the link's posts, oldest first."""
    post_of(session, link, post_id)
    return comments.thread(session, ctx, post_id)


def reject(session: Session, ctx: Context, link: ReviewLink, post_id: str, *, reason: str,
           revision: int | None = None) -> Post:
    """The client sends one of the link's posts back to its author, saying why."""
    post_of(session, link, post_id)
    link.last_used_at = ctx.now()
    return approvals.reject_post(session, ctx, post_id, reason=reason, revision=revision)
