"""Evergreen refills: a slot still empty shortly before it comes up gets a library post.

For each account with a schedule whose queue runs, the free slots within
HERALD_EVERGREEN_LEAD_MINUTES take the evergreen entries of its company that name the
account (and the slot's category, when the slot has one): least recently used on this
account first, and never one used on it within HERALD_EVERGREEN_MIN_GAP_DAYS. A refill
is an ordinary post (`origin` "evergreen", its series' id) holding the slot, so it is
listed in the queue, can be moved or cancelled like any other, and is published once.
The account's row lock (as "next_slot" takes it) keeps two planners, or a planner and
an "Add to queue", from filling one slot twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from herald.models import AccountSchedule, Post, PostSeries, SocialAccount
from herald.planning.schedules import lock_accounts, slots_of, taken_slots
from herald.planning.series import EVERGREEN, accounts_found, template
from herald.planning.slots import slot_times, zone
from herald.services.context import Context
from herald.services.posts import _post_rows, enqueue_rows
from herald.statuses import PostStatus

_posts = cast(Table, Post.__table__)


def accounts_to_refill(session: Session) -> list[tuple[str, str]]:
    """(account id, company id) of accounts with a schedule, a running queue and an
    active evergreen entry in their company."""
    has_entries = select(PostSeries.id).where(
        PostSeries.company_id == SocialAccount.company_id, PostSeries.kind == EVERGREEN,
        PostSeries.stopped_at.is_(None)).exists()
    return [(r.id, r.company_id) for r in session.execute(
        select(SocialAccount.id, SocialAccount.company_id)
        .join(AccountSchedule, AccountSchedule.account_id == SocialAccount.id)
        .where(SocialAccount.queue_paused_at.is_(None), SocialAccount.state == "active",
               has_entries))]


def refill_account(session: Session, ctx: Context, account_id: str, *, now: datetime,
                   lead: timedelta, gap: timedelta) -> list[Post]:
    """Fill the account's empty slots up to `now + lead` from its evergreen library."""
    conn = session.connection()
    if lock_accounts(conn, [account_id]).get(account_id, now) is not None:
        return []  # paused (or gone) since it was listed
    schedule = session.get(AccountSchedule, account_id)
    if schedule is None:
        return []
    entries = [s for s in session.scalars(
        select(PostSeries).where(PostSeries.company_id == ctx.company_id,
                                 PostSeries.kind == EVERGREEN, PostSeries.stopped_at.is_(None))
        .order_by(PostSeries.created_at, PostSeries.id)) if account_id in s.account_ids]
    if not entries:
        return []
    last_used = _last_used(session, account_id, [s.id for s in entries])
    taken = set(taken_slots(conn, account_id, now))
    found = accounts_found(session, ctx.company_id, [account_id])
    rows: list[dict[str, Any]] = []
    for when, slot in slot_times(slots_of(schedule), zone(schedule.timezone), after=now):
        if when > now + lead:
            break
        if when in taken:
            continue
        pick = _pick(entries, last_used, when, gap, slot.category)
        if pick is None:
            continue
        last_used[pick.id] = when
        for row in _post_rows(ctx, template(pick, when, [account_id]), [found[account_id]],
                              list(pick.media), when, now, False):
            rows.append(row | {"origin": "evergreen", "series_id": pick.id,
                               "occurrence_at": when, "queue_slot": when,
                               "created_by": pick.created_by})
    if rows:
        conn.execute(insert(_posts), rows)
        enqueue_rows(conn, ctx, rows, found, now=now, paused=set())
    return [Post(**row) for row in rows]


def _last_used(session: Session, account_id: str, series_ids: list[str]
               ) -> dict[str, datetime]:
    """When each entry last went (or goes) out on the account, cancelled refills aside."""
    return {r.series_id: r.last for r in session.execute(
        select(Post.series_id, func.max(Post.occurrence_at).label("last"))
        .where(Post.account_id == account_id, Post.series_id.in_(series_ids),
               Post.status != PostStatus.CANCELLED)
        .group_by(Post.series_id))}


def _pick(entries: list[PostSeries], last_used: dict[str, datetime], when: datetime,
          gap: timedelta, category: str | None) -> PostSeries | None:
    """Least recently used first (never used before all), outside the gap."""
    candidates = [s for s in entries
                  if (category is None or category in s.categories)
                  and (s.id not in last_used or abs(when - last_used[s.id]) >= gap)]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (s.id in last_used,
                                          last_used.get(s.id, when), s.created_at))
