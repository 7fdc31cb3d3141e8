"""The daily digest: once a day per person who asked for it, at their hour in their time
zone, the last 24 hours' numbers and the posts that need a look, to each of their channels.

Any worker may make it: the day is claimed with a conditional UPDATE of the person's
`digest_sent_for`, so two workers never send one day twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, Table, func, or_, select, update

from herald.models import Company, Post, User, new_id
from herald.notifications import messages
from herald.notifications.fanout import channels_t, prefs_t
from herald.queue import deliveries as dq
from herald.statuses import PostStatus

users_t = cast(Table, User.__table__)
companies_t = cast(Table, Company.__table__)
posts_t = cast(Table, Post.__table__)
DAY = timedelta(hours=24)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def make_digests(engine: Engine, *, now: datetime, public_url: str, max_attempts: int) -> int:
    """Queue the digests that are due; returns how many people get one."""
    with engine.begin() as conn:
        people = conn.execute(
            select(users_t.c.id, users_t.c.company_id, users_t.c.timezone,
                   companies_t.c.name, companies_t.c.timezone.label("company_tz"),
                   prefs_t.c.digest_hour, prefs_t.c.digest_sent_for)
            .select_from(users_t.join(prefs_t, prefs_t.c.user_id == users_t.c.id)
                         .join(companies_t, companies_t.c.id == users_t.c.company_id))
            .where(prefs_t.c.digest)).all()
        made = 0
        for person in people:
            local = now.astimezone(_zone(person.timezone or person.company_tz))
            day = local.date().isoformat()
            if local.hour < person.digest_hour or person.digest_sent_for == day:
                continue
            if _claim_day(conn, person.id, day):
                made += _queue(conn, person, day, now, public_url, max_attempts)
        return made


def _claim_day(conn: Connection, user_id: str, day: str) -> bool:
    return conn.execute(
        update(prefs_t).where(prefs_t.c.user_id == user_id,
                              or_(prefs_t.c.digest_sent_for.is_(None),
                                  prefs_t.c.digest_sent_for != day))
        .values(digest_sent_for=day)).rowcount == 1


def _queue(conn: Connection, person: Any, day: str, now: datetime, public_url: str,
           max_attempts: int) -> int:
    channels = conn.execute(select(channels_t.c.id).where(
        channels_t.c.user_id == person.id, channels_t.c.enabled)).scalars().all()
    if not channels:
        return 0
    counts, problems, upcoming = summary(conn, person.company_id, now)
    title, body = messages.digest(person.name, counts, problems, upcoming, day=day,
                                  public_url=public_url)
    dq.enqueue(conn, dq.sends_t, [
        {"id": new_id(), "channel_id": channel_id, "event_id": None, "title": title,
         "body": body, "run_at": now, "max_attempts": max_attempts, "created_at": now,
         "updated_at": now} for channel_id in channels])
    return 1


def summary(conn: Connection, company_id: str, now: datetime
            ) -> tuple[dict[str, int], list[dict[str, Any]], int]:
    """(counts by status over the last day, failed and unconfirmed posts, due next day)."""
    p = posts_t.c
    since = now - DAY
    published = conn.execute(select(func.count()).where(
        p.company_id == company_id, p.status == PostStatus.PUBLISHED,
        p.published_at >= since)).scalar_one()
    problems = [dict(r._mapping) for r in conn.execute(
        select(p.id, p.status, p.platform, p.caption)
        .where(p.company_id == company_id, p.updated_at >= since,
               p.status.in_([PostStatus.FAILED, PostStatus.UNCONFIRMED]))
        .order_by(p.updated_at.desc()).limit(100))]
    upcoming = conn.execute(select(func.count()).where(
        p.company_id == company_id, p.status == PostStatus.PENDING,
        p.scheduled_at >= now, p.scheduled_at < now + DAY)).scalar_one()
    counts = {"published": published,
              "failed": sum(1 for r in problems if r["status"] == PostStatus.FAILED),
              "unconfirmed": sum(1 for r in problems if r["status"] == PostStatus.UNCONFIRMED)}
    return counts, problems, upcoming
