"""Series: recurring posts and evergreen library entries, and their occurrences.

A series is a template (accounts, type, caption, media, options). A recurring one makes
each occurrence of its rule an ordinary post (`origin` "series", its own queue row) up to
HERALD_SERIES_WINDOW_DAYS ahead; the planning pass (loop.py) moves that window on, and
`expanded_until` says how far it got. Two planners never make one occurrence twice: each
expands a series only while it holds the series' row lock (the other skips it), skips
occurrences that have a post already, and a unique (series_id, occurrence_at,
account_id, post_type) refuses whatever would still slip through.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from herald import queue
from herald.errors import Conflict, Invalid, NotFound
from herald.models import Post, PostSeries, SocialAccount
from herald.permissions import Permission
from herald.planning import rules
from herald.planning.schedules import lock_accounts
from herald.planning.schemas import RecurrenceOut, SeriesOut, SeriesPage, SeriesPatch
from herald.schemas import MediaIn, PostCreate, PostOut
from herald.services import audit
from herald.services.context import Context
from herald.services.posts import (
    PAST_TOLERANCE,
    _post_rows,
    enqueue_rows,
    inspect_media,
    plan_posts,
)
from herald.statuses import PostStatus

RECURRING, EVERGREEN = "recurring", "evergreen"
#: The most occurrence posts one transaction makes. A daily series on 100 accounts a year
#: ahead is 36,500 posts: made in the create request, that request took a minute and held
#: the accounts' row locks (and on SQLite the database's write lock) all along, so every
#: other create for those accounts waited (bench/series_scale.py). The request makes the
#: first BATCH_ROWS (always the first occurrence), the planning pass the rest, a
#: transaction per batch.
BATCH_ROWS = 1000
_posts = cast(Table, Post.__table__)
_accounts = cast(Table, SocialAccount.__table__)


def _state(series: PostSeries) -> dict[str, Any]:
    """What an audit entry keeps of a series."""
    return {"series_id": series.id, "kind": series.kind, "caption": series.caption,
            "media": series.media, "options": series.options, "rule": series.rule,
            "timezone": series.timezone, "categories": series.categories,
            "account_ids": series.account_ids}


def _record(session: Session, ctx: Context, action: audit.Action, series: PostSeries) -> None:
    audit.record(session, ctx, action, account_id=next(iter(series.account_ids), None),
                 after=_state(series))


def recurrence_of(series: PostSeries) -> rules.Recurrence:
    assert series.rule is not None and series.timezone and series.starts_at is not None
    return rules.parse(series.rule, series.timezone, series.starts_at)


def template(series: PostSeries, run_at: datetime, account_ids: Sequence[str]) -> PostCreate:
    """The create body one of the series' posts would have had."""
    return PostCreate(account_ids=list(account_ids), post_type=series.post_type,
                      caption=series.caption, media=[MediaIn(**m) for m in series.media],
                      options=series.options, run_at=run_at)


def accounts_found(session: Session, company_id: str, ids: Sequence[str]) -> dict[str, Any]:
    return {a.id: a for a in session.connection().execute(
        select(_accounts).where(_accounts.c.id.in_(list(ids)),
                                _accounts.c.company_id == company_id))}


def get_series(session: Session, ctx: Context, series_id: str, *,
               permission: Permission = Permission.VIEW) -> PostSeries:
    ctx.require(permission)
    series = session.get(PostSeries, series_id)
    if series is None or series.company_id != ctx.company_id:
        raise NotFound(f"No series with id {series_id!r}.")
    return series


def create_series(session: Session, ctx: Context, data: PostCreate, *, window_days: int
                  ) -> tuple[PostSeries, list[Post]]:
    """A recurring series (and its occurrences in the window) or an evergreen entry.

    The template is checked as a single create is (accounts, the platforms' rules on the
    probed media), so each occurrence would be accepted today. The media is probed before
    the transaction's first statement.
    """
    # A series publishes on its own, again and again: it needs the right to schedule.
    ctx.require(Permission.SCHEDULE)
    for account_id in data.targets:
        ctx.require_account(account_id)
    now = ctx.now()
    media = [m.model_dump(exclude_none=True) for m in data.media]
    inspected = inspect_media(ctx, media)
    found = accounts_found(session, ctx.company_id, data.targets)
    series = PostSeries(company_id=ctx.company_id, account_ids=data.targets,
                        post_type=data.post_type, caption=data.caption, media=media,
                        options=dict(data.options), categories=[], created_by=ctx.actor,
                        created_at=now, updated_at=now)
    if data.evergreen is not None:
        plan_posts(ctx, data.model_copy(update={"evergreen": None, "draft": True}), found,
                   media, None, inspected, now=now)
        series.kind = EVERGREEN
        series.categories = sorted({c.strip() for c in data.evergreen.categories if c.strip()})
        session.add(series)
        session.flush()
        _record(session, ctx, audit.Action.SERIES_CREATED, series)
        return series, []
    given = data.recurrence
    if given is None or not isinstance(data.run_at, datetime):
        raise Invalid("a series is recurring (recurrence and run_at) or evergreen")
    # RRULEs count in whole seconds (dateutil drops the rest): so does the series.
    starts_at = data.run_at.replace(microsecond=0)
    recurrence = rules.parse(given.rule, given.timezone, starts_at, until=given.until,
                             count=given.count)
    first = recurrence.first()
    if first is None:
        raise Invalid("the recurrence has no occurrence at all; check its rule and its end")
    if first < now - PAST_TOLERANCE:
        raise Invalid(f"the recurrence's first occurrence ({first.isoformat()}) is in the "
                      "past; start it (run_at) at a future time")
    plan_posts(ctx, data.model_copy(update={"recurrence": None}), found, media, first,
               inspected, now=now)
    series.kind, series.timezone, series.starts_at = RECURRING, given.timezone, starts_at
    series.rule = recurrence.stored()
    session.add(series)
    session.flush()
    _record(session, ctx, audit.Action.SERIES_CREATED, series)
    # The first occurrence is a post at once, however far ahead: it shows on the calendar.
    posts = expand(session, ctx, series, now=now,
                   until=max(now + timedelta(days=window_days), first), max_rows=BATCH_ROWS)
    return series, posts


def expand(session: Session, ctx: Context, series: PostSeries, *, now: datetime,
           until: datetime, max_rows: int | None = None) -> list[Post]:
    """Make the occurrences after `expanded_until` up to `until` posts (the caller holds
    the series' row, or made it). Occurrences already past are skipped, not sent late.

    With `max_rows`, only the first occurrences that make about that many posts (at least
    one occurrence): `expanded_until` then says how far this call got, and the next call
    goes on from there."""
    if series.kind != RECURRING or series.stopped_at is not None:
        return []
    start = series.expanded_until or (series.starts_at - timedelta(microseconds=1)
                                      if series.starts_at else now)
    times = recurrence_of(series).between(max(start, now - PAST_TOLERANCE), until)
    per_time = max(1, len(series.account_ids))
    if max_rows is not None and len(times) * per_time > max_rows:
        times = times[:max(1, max_rows // per_time)]
        until = times[-1]
    series.expanded_until = max(until, series.expanded_until or until)
    if not times:
        return []
    conn = session.connection()
    paused = {a for a, at in lock_accounts(conn, series.account_ids).items()
              if at is not None}
    found = accounts_found(session, series.company_id, series.account_ids)
    targets = [a for a in series.account_ids if a in found]
    made = set(conn.execute(
        select(_posts.c.occurrence_at, _posts.c.account_id, _posts.c.post_type)
        .where(_posts.c.series_id == series.id, _posts.c.occurrence_at.in_(times))).all())
    rows: list[dict[str, Any]] = []
    for when in times:
        if not targets:
            break
        data = template(series, when, targets)
        for row in _post_rows(ctx, data, [found[a] for a in targets], list(series.media),
                              when, now, False):
            if (when, row["account_id"], row["post_type"]) not in made:
                rows.append(row | {"origin": "series", "series_id": series.id,
                                   "occurrence_at": when, "created_by": series.created_by})
    if rows:
        conn.execute(insert(_posts), rows)
        enqueue_rows(conn, ctx, rows, found, now=now, paused=paused)
        audit.record_posts(session, ctx, rows, now=now)
    return [Post(**row) for row in rows]


def future_occurrences(session: Session, series: PostSeries, *, now: datetime,
                       detached: bool | None = False, limit: int | None = None) -> list[Post]:
    """The series' posts still to come (pending), in time order; attached ones only
    unless `detached` is None; the first `limit` of them if given."""
    query = select(Post).where(Post.series_id == series.id, Post.status == PostStatus.PENDING,
                               Post.scheduled_at > now)
    if detached is not None:
        query = query.where(Post.detached.is_(detached))
    return list(session.scalars(query.order_by(Post.scheduled_at, Post.id).limit(limit)))


def lock_series(session: Session, ctx: Context, series_id: str) -> PostSeries:
    series = get_series(session, ctx, series_id, permission=Permission.SCHEDULE)
    session.execute(select(PostSeries.id).where(PostSeries.id == series_id).with_for_update())
    session.refresh(series)
    return series


def stop_series(session: Session, ctx: Context, series_id: str) -> PostSeries:
    """Stop the series: no more occurrences; those still to come are cancelled (those
    edited on their own stay)."""
    series = lock_series(session, ctx, series_id)
    now = ctx.now()
    if series.stopped_at is None:
        series.stopped_at = now
        _record(session, ctx, audit.Action.SERIES_STOPPED, series)
    conn = session.connection()
    for post in future_occurrences(session, series, now=now):
        if queue.cancel(conn, post_id=post.id, now=now):
            post.status, post.queue_slot, post.updated_at = PostStatus.CANCELLED, None, now
    return series


def update_series(session: Session, ctx: Context, series_id: str, patch: SeriesPatch, *,
                  window_days: int) -> PostSeries:
    """Edit the series and its occurrences still to come that were not edited on their
    own. A new recurrence makes those occurrences again from it."""
    new_media = ([m.model_dump(exclude_none=True) for m in patch.media]
                 if patch.media is not None else None)
    with Session(session.get_bind()) as reader:  # the media is probed before any lock
        current = get_series(reader, ctx, series_id, permission=Permission.SCHEDULE)
        inspected = inspect_media(ctx, new_media if new_media is not None else current.media)
    series = lock_series(session, ctx, series_id)
    if series.stopped_at is not None:
        raise Conflict("The series was stopped; it cannot be edited.")
    before = _state(series)
    # Locks in one order everywhere (series, accounts, queue rows): a pause takes the
    # account and then its queue rows, so taking queue rows first could deadlock with it.
    lock_accounts(session.connection(), series.account_ids)
    now = ctx.now()
    series.caption = patch.caption if patch.caption is not None else series.caption
    series.media = new_media if new_media is not None else series.media
    series.options = patch.options if patch.options is not None else series.options
    if patch.categories is not None:
        series.categories = sorted({c.strip() for c in patch.categories if c.strip()})
    found = accounts_found(session, series.company_id, series.account_ids)
    plan_posts(ctx, template(series, now, [a for a in series.account_ids if a in found]),
               found, series.media, now, inspected, now=now)
    series.updated_at = now
    old, new = audit.changed(before, _state(series))
    audit.record(session, ctx, audit.Action.SERIES_EDITED,
                 account_id=next(iter(series.account_ids), None),
                 before=old, after={"series_id": series.id, **new})
    conn = session.connection()
    if patch.recurrence is not None and series.kind == RECURRING:
        given = patch.recurrence
        assert series.starts_at is not None
        recurrence = rules.parse(given.rule, given.timezone, series.starts_at,
                                 until=given.until, count=given.count)
        doomed = [p for p in future_occurrences(session, series, now=now)
                  if queue.lock_for_edit(conn, post_id=p.id) != "processing"]
        queue.forget_posts(conn, [p.id for p in doomed])
        for post in doomed:
            session.delete(post)
        series.rule, series.timezone = recurrence.stored(), given.timezone
        series.expanded_until = now
        session.flush()
        expand(session, ctx, series, now=now, until=now + timedelta(days=window_days),
               max_rows=BATCH_ROWS)
        return series
    for post in future_occurrences(session, series, now=now):
        if queue.lock_for_edit(conn, post_id=post.id) == "processing":
            continue  # being published right now: it goes out as it was
        post.caption, post.media, post.options = series.caption, series.media, series.options
        post.updated_at = now
    return series


def series_out(session: Session, ctx: Context, series: PostSeries, *,
               occurrences: bool = True) -> SeriesOut:
    out = SeriesOut(
        id=series.id, kind=series.kind, account_ids=list(series.account_ids),
        post_type=series.post_type, caption=series.caption, media=list(series.media),
        options=dict(series.options), starts_at=series.starts_at,
        expanded_until=series.expanded_until, categories=list(series.categories),
        stopped_at=series.stopped_at, created_at=series.created_at,
        updated_at=series.updated_at)
    if series.kind == RECURRING:
        recurrence = recurrence_of(series)
        assert series.timezone is not None
        out.recurrence = RecurrenceOut(rule=series.rule or "", timezone=series.timezone,
                                       until=recurrence.until, count=recurrence.count)
        if occurrences and series.stopped_at is None:
            out.next_times = list(rules.upcoming(
                recurrence, max(ctx.now(), series.expanded_until or ctx.now()), 5))
    if occurrences:
        # The first 100 read, not all: a year of a daily series on 100 accounts is 36,500.
        out.occurrences = [PostOut.model_validate(p) for p in future_occurrences(
            session, series, now=ctx.now(), detached=None, limit=100)]
    return out


def list_series(session: Session, ctx: Context) -> SeriesPage:
    ctx.require(Permission.VIEW)
    found = session.scalars(select(PostSeries).where(PostSeries.company_id == ctx.company_id)
                            .order_by(PostSeries.created_at, PostSeries.id))
    return SeriesPage(items=[series_out(session, ctx, s, occurrences=False) for s in found])
