"""An event's data: the post, account or webhook it is about, as the API shows it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.events.schemas import WebhookOut
from herald.models import Post, PostComment, PublishAttempt, SocialAccount, SocialToken, Webhook
from herald.schemas import AccountOut, CommentOut, PostOut

#: Event subjects that are posts (describe reads the post by the subject's id).
POST_SUBJECTS = frozenset({"post", "approval", "comment"})


def prefetch(session: Session, events: Iterable[tuple[str, str]]) -> list[Post]:
    """Load the posts a batch of (type, subject id) events is about in one query.

    describe() then finds them in the session (`Session.get` reads its identity map
    first): a burst of 5,000 published posts made one SELECT per event, a fifth of a
    worker's CPU. The identity map holds its objects weakly: keep the list until done.
    """
    ids = sorted({subject for kind, subject in events
                  if kind.partition(".")[0] in POST_SUBJECTS})
    if not ids:
        return []
    return list(session.scalars(select(Post).where(Post.id.in_(ids))))


def describe(session: Session, kind: str, subject_id: str
             ) -> tuple[str, dict[str, Any]] | None:
    """(company id, data) for an event; None when its subject is gone (deleted since)."""
    subject, _, _ = kind.partition(".")
    if subject in POST_SUBJECTS:
        post = session.get(Post, subject_id)
        if post is None:
            return None
        data = PostOut.model_validate(post).model_dump(mode="json")
        if subject == "comment":
            data["first_comment_state"] = _comment_state(session, post)
        return post.company_id, data
    if subject == "account":
        account = session.get(SocialAccount, subject_id)
        if account is None:
            return None
        out = AccountOut.model_validate(account)
        token = session.get(SocialToken, subject_id)
        out.token_expires_at = token.expires_at if token else None
        return account.company_id, out.model_dump(mode="json")
    if subject == "thread":
        comment = session.get(PostComment, subject_id)
        post = session.get(Post, comment.post_id) if comment is not None else None
        if comment is None or post is None:
            return None
        data = CommentOut.model_validate(comment).model_dump(mode="json")
        data["post"] = PostOut.model_validate(post).model_dump(mode="json")
        return comment.company_id, data
    if subject == "webhook":
        webhook = session.get(Webhook, subject_id)
        if webhook is None:
            return None
        return webhook.company_id, WebhookOut.model_validate(webhook).model_dump(mode="json")
    return None


def _comment_state(session: Session, post: Post) -> dict[str, Any] | None:
    """The post's first comment as `GET /api/v1/posts/{id}` shows it (first_comment_state)."""
    from herald import first_comment

    ids = session.scalars(select(PublishAttempt.platform_ids)
                          .where(PublishAttempt.post_id == post.id)
                          .order_by(PublishAttempt.attempt)).all()
    state = first_comment.state_of(post.options, ids)
    return None if state is None else {"text": state.text, "status": state.status,
                                       "comment_id": state.comment_id, "error": state.error}


def body(event_id: str, kind: str, created_at: datetime, data: dict[str, Any] | None) -> bytes:
    """The JSON a receiver gets: {"id", "type", "created_at", "data"}, the same bytes at
    every attempt of every delivery of the event."""
    stamp = created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"id": event_id, "type": kind, "created_at": stamp, "data": data or {}},
                      separators=(",", ":")).encode()
