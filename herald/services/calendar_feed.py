"""A user's iCalendar feed: a secret URL (stored hashed) and the posts it lists."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from herald.crypto import hash_api_token
from herald.models import CalendarFeed, Post, SocialAccount, User
from herald.statuses import PostStatus

#: The window a feed lists: calendars show what is coming and what just went out.
AHEAD, BEHIND = timedelta(days=90), timedelta(days=7)
#: Most events in one feed (a calendar app refetches it every few hours).
MAX_EVENTS = 5000


@dataclass(frozen=True)
class FeedEvent:
    post_id: str
    platform: str
    account: str
    caption: str
    status: str
    at: datetime
    updated_at: datetime
    permalink: str | None
    #: What placed the post: "queue", "series", "evergreen", or None (a time of its own).
    origin: str | None = None


def new_feed(session: Session, *, user_id: str, now: datetime) -> str:
    """A new secret for the user's feed; the old URL stops working. Returned once."""
    token = secrets.token_urlsafe(32)
    session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user_id))
    session.add(CalendarFeed(user_id=user_id, token_hash=hash_api_token(token),
                             created_at=now))
    return token


def revoke_feed(session: Session, *, user_id: str) -> None:
    session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user_id))


def feed_created_at(session: Session, *, user_id: str) -> datetime | None:
    return session.scalar(select(CalendarFeed.created_at)
                          .where(CalendarFeed.user_id == user_id))


def feed_company(session: Session, token: str) -> str | None:
    """The company whose posts the feed with this secret lists (None: no such feed)."""
    # SHA-256 of 256 random bits: looked up by hash, so timing reveals nothing useful.
    return session.scalar(select(User.company_id).join(
        CalendarFeed, CalendarFeed.user_id == User.id).where(
        CalendarFeed.token_hash == hash_api_token(token)))


def feed_events(session: Session, *, company_id: str, now: datetime) -> list[FeedEvent]:
    """The company's scheduled posts from 7 days ago to 90 days ahead, drafts and
    cancelled posts left out."""
    rows = session.execute(
        select(Post.id, Post.platform, SocialAccount.name, Post.caption, Post.status,
               Post.scheduled_at, Post.updated_at, Post.permalink, Post.origin)
        .join(SocialAccount, SocialAccount.id == Post.account_id)
        .where(Post.company_id == company_id,
               Post.scheduled_at >= now - BEHIND, Post.scheduled_at <= now + AHEAD,
               Post.status.not_in([PostStatus.DRAFT, PostStatus.CANCELLED]))
        .order_by(Post.scheduled_at, Post.id).limit(MAX_EVENTS)).all()
    # scheduled_at is never NULL here: the WHERE bounds it.
    return [FeedEvent(r.id, r.platform, r.name, r.caption, r.status, cast(datetime, r[5]),
                      r.updated_at, r.permalink, r.origin) for r in rows]
