"""A post's thread: comments by the team and the client, with @mentions that notify.

A comment, its audit entry and its events (`thread.commented`, and `thread.mentioned`
when it mentions members) commit together. The events fan out as every event does
(herald.events): webhooks that asked for them, and the people who asked, by their own
channels (e-mail, chat); a mention tells only the members it mentions.

A mention is `@` and a member's e-mail address (`@ann@example.com`), or the part of it
before the `@` (`@ann`) when exactly one member's address has it. Members who
cannot see the post's account are not mentioned (they could not open it).

Clients without an account comment through a review link: `add_link_comment`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald import events
from herald.errors import Forbidden, Invalid, NotFound
from herald.models import Post, PostComment, User, new_id
from herald.permissions import Permission
from herald.services import audit
from herald.services.context import Context
from herald.services.posts import get_post
from herald.team_models import Membership

#: The longest comment kept (characters).
MAX_BODY = 5000
#: The most comments a thread answers with (oldest first).
MAX_THREAD = 500
#: How much of a comment its audit entry keeps.
AUDIT_QUOTE = 500
_MENTION = re.compile(
    r"(?<![\w@.])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")


@dataclass(frozen=True)
class Author:
    """Who writes a comment: the actor the audit log names, and the name shown."""

    actor: str
    name: str
    user_id: str | None = None
    review_link_id: str | None = None


def link_actor(link_id: str) -> str:
    """The actor of what a client does through a review link."""
    return f"review:{link_id}"


def thread(session: Session, ctx: Context, post_id: str) -> list[PostComment]:
    """A post's comments, oldest first (anyone who may see the post may read them)."""
    post = get_post(session, ctx, post_id)
    return list(session.scalars(
        select(PostComment).where(PostComment.post_id == post.id)
        .order_by(PostComment.created_at, PostComment.id).limit(MAX_THREAD)))


def add_comment(session: Session, ctx: Context, post_id: str, body: str) -> PostComment:
    """A member's or a token's comment on a post they may see."""
    ctx.require(Permission.COMMENT)
    post = get_post(session, ctx, post_id)
    return _add(session, ctx, post, _author(session, ctx), body)


def add_link_comment(session: Session, ctx: Context, post_id: str, *, link_id: str,
                     author_name: str, body: str) -> PostComment:
    """A client's comment through a review link (whoever calls checks the link first).

    `ctx`: the link's company, with the role `client` and the actor `link_actor(link_id)`;
    `author_name`: the name the client gave.
    """
    ctx.require(Permission.COMMENT)
    name = " ".join(author_name.split())[:200]
    if not name:
        raise Invalid("Say who you are: a name for your comment.")
    post = get_post(session, ctx, post_id)
    author = Author(actor=link_actor(link_id), name=name, review_link_id=link_id)
    return _add(session, ctx, post, author, body)


def delete_comment(session: Session, ctx: Context, post_id: str, comment_id: str) -> None:
    """Delete one's own comment (nobody deletes another's)."""
    ctx.require(Permission.COMMENT)
    post = get_post(session, ctx, post_id)
    comment = session.get(PostComment, comment_id)
    if comment is None or comment.post_id != post.id:
        raise NotFound(f"No comment with id {comment_id!r} on this post.")
    if comment.actor != ctx.actor:
        raise Forbidden("Only its author can delete a comment.", permission="comment_author")
    audit.record(session, ctx, audit.Action.THREAD_COMMENT_DELETED, post_id=post.id,
                 account_id=post.account_id, before=_entry(comment), after=None)
    session.delete(comment)
    session.flush()


def _add(session: Session, ctx: Context, post: Post, author: Author, body: str
         ) -> PostComment:
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise Invalid("A comment needs some text.")
    if len(text) > MAX_BODY:
        raise Invalid(f"A comment has at most {MAX_BODY} characters; this one has "
                      f"{len(text)}.")
    comment = PostComment(
        id=new_id(), company_id=ctx.company_id, post_id=post.id, actor=author.actor[:100],
        author_name=author.name[:200], user_id=author.user_id,
        review_link_id=author.review_link_id, body=text,
        mentions=mentioned(session, ctx.company_id, post, text, author=author.user_id),
        created_at=ctx.now())
    session.add(comment)
    session.flush()
    conn = session.connection()
    events.record(conn, events.EventType.THREAD_COMMENTED, [comment.id], now=ctx.now())
    if comment.mentions:
        events.record(conn, events.EventType.THREAD_MENTIONED, [comment.id], now=ctx.now())
    audit.record(session, ctx, audit.Action.THREAD_COMMENTED, post_id=post.id,
                 account_id=post.account_id, before=None, after=_entry(comment))
    return comment


def _entry(comment: PostComment) -> dict[str, Any]:
    return {"comment_id": comment.id, "author": comment.author_name,
            "body": comment.body[:AUDIT_QUOTE], "mentions": list(comment.mentions or [])}


def _author(session: Session, ctx: Context) -> Author:
    """A member (web:<email>) by their name; a token or the CLI by the actor itself."""
    actor = ctx.actor or "system"
    if actor.startswith("web:"):
        user = session.scalars(select(User).join(Membership, Membership.user_id == User.id)
                               .where(Membership.company_id == ctx.company_id,
                                      User.email == actor[4:])).first()
        if user is not None:
            return Author(actor=actor, name=user.name or user.email, user_id=user.id)
    return Author(actor=actor, name=actor)


def mentioned(session: Session, company_id: str, post: Post, body: str, *,
              author: str | None = None) -> list[str]:
    """The user ids of the members `body` mentions who may see `post`, in text order."""
    handles = [m.group(1).rstrip(".").casefold() for m in _MENTION.finditer(body)]
    if not handles:
        return []
    # Memberships, not users.company_id: an agency's people are members of several.
    members = session.execute(select(User.id, User.email, Membership.account_ids)
                              .join(Membership, Membership.user_id == User.id)
                              .where(Membership.company_id == company_id)).all()
    found: list[str] = []
    for handle in handles:
        user_id = _resolve(handle, members)
        if user_id is None or user_id == author or user_id in found:
            continue
        limited = next(m.account_ids for m in members if m.id == user_id)
        if limited is None or post.account_id in limited:
            found.append(user_id)
    return found


def _resolve(handle: str, members: Sequence[Any]) -> str | None:
    if "@" in handle:
        exact = [m.id for m in members if m.email.casefold() == handle]
        return exact[0] if exact else None
    local = [m.id for m in members if m.email.casefold().partition("@")[0] == handle]
    return local[0] if len(local) == 1 else None
