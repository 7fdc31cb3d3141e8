"""An account's posting schedule, its free slots, and "next_slot" for a create."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from herald.errors import AppError, Invalid, NotFound
from herald.models import AccountSchedule, Company, Post, SocialAccount
from herald.permissions import Permission
from herald.planning.schemas import ScheduleIn, ScheduleOut, SlotIn, SlotOut
from herald.planning.slots import (
    MAX_SLOTS,
    WEEKDAYS,
    Slot,
    free_slots,
    parse_slot,
    slot_times,
    zone,
)
from herald.services import audit
from herald.services.context import Context

#: How many upcoming slot times a schedule's answer lists.
UPCOMING = 10


def account_of(session: Session, ctx: Context, account_id: str, *,
               permission: Permission = Permission.VIEW) -> SocialAccount:
    """The company's account, if the caller's role has `permission` (and may use it)."""
    ctx.require(permission)
    account = session.get(SocialAccount, account_id)
    if account is None or account.company_id != ctx.company_id:
        raise NotFound(f"No account with id {account_id!r}.")
    ctx.require_account(account_id)
    return account


def slots_of(schedule: AccountSchedule) -> list[Slot]:
    return [parse_slot(s["weekday"], s["time"], s.get("category")) for s in schedule.slots]


def schedule_out(session: Session, ctx: Context, account_id: str) -> ScheduleOut:
    """The schedule as PUT took it (no slots and the company's zone before one is set)."""
    account_of(session, ctx, account_id)
    schedule = session.get(AccountSchedule, account_id)
    if schedule is None:
        company_zone = session.scalar(select(Company.timezone).where(
            Company.id == ctx.company_id))
        return ScheduleOut(account_id=account_id, timezone=company_zone or "UTC", slots=[])
    slots = slots_of(schedule)
    upcoming = [when for when, _ in _take(slot_times(slots, zone(schedule.timezone),
                                                     after=ctx.now()), UPCOMING)]
    return ScheduleOut(account_id=account_id, timezone=schedule.timezone,
                       slots=[SlotOut(**s.as_dict()) for s in slots], upcoming=upcoming)


def _take(items: Any, n: int) -> list[Any]:
    out = []
    for item in items:
        out.append(item)
        if len(out) == n:
            break
    return out


def set_schedule(session: Session, ctx: Context, account_id: str,
                 data: ScheduleIn) -> ScheduleOut:
    """Replace the account's schedule. Posts already queued keep their times."""
    account_of(session, ctx, account_id, permission=Permission.SCHEDULE)
    zone(data.timezone)
    slots = sorted({parse_slot(s.weekday, s.time, s.category) for s in data.slots})
    if len(slots) > MAX_SLOTS:
        raise Invalid(f"A schedule has at most {MAX_SLOTS} slots a week; this one has "
                      f"{len(slots)}.")
    times = [(s.weekday, s.at) for s in slots]
    if len(set(times)) != len(times):
        raise Invalid("Two slots are at the same weekday and time with different "
                      "categories; give each time one slot.")
    schedule = session.get(AccountSchedule, account_id)
    stored = [s.as_dict() for s in slots]
    audit.record(session, ctx, audit.Action.SCHEDULE_SET, account_id=account_id,
                 before=None if schedule is None else {"timezone": schedule.timezone,
                                                       "slots": schedule.slots},
                 after={"timezone": data.timezone, "slots": stored})
    if schedule is None:
        session.add(AccountSchedule(account_id=account_id, timezone=data.timezone,
                                    slots=stored, updated_at=ctx.now()))
    else:
        schedule.timezone, schedule.slots, schedule.updated_at = (
            data.timezone, stored, ctx.now())
    session.flush()
    return schedule_out(session, ctx, account_id)


def taken_slots(conn: Connection, account_id: str, after: datetime) -> list[datetime]:
    """The slot times the account's queued posts hold after `after`."""
    return [slot for slot in conn.execute(
        select(Post.queue_slot).distinct()
        .where(Post.account_id == account_id, Post.queue_slot > after)).scalars()
        if slot is not None]


def lock_accounts(conn: Connection, account_ids: Sequence[str]) -> dict[str, datetime | None]:
    """Lock the accounts' rows (in id order: no deadlock between two creates), so that
    slot picking and pausing of one account happen one at a time.

    Returns each account's queue_paused_at as the locking read saw it: the latest
    committed value (MariaDB's plain reads would still see the transaction's snapshot).

    On PostgreSQL the lock is FOR NO KEY UPDATE: it still excludes every other
    lock_accounts, but not the KEY SHARE lock that inserting a post (its foreign key to
    the account) takes, so a series' batch of occurrences does not hold up the single
    creates for its accounts meanwhile. MariaDB has only FOR UPDATE.
    """
    return {r.id: r.queue_paused_at for r in conn.execute(
        select(SocialAccount.id, SocialAccount.queue_paused_at)
        .where(SocialAccount.id.in_(sorted(account_ids)))
        .order_by(SocialAccount.id).with_for_update(key_share=True))}


def next_slots(session: Session, ctx: Context, account_ids: Sequence[str], *,
               now: datetime) -> tuple[dict[str, datetime], set[str]]:
    """Each account's next free slot, and which of the accounts' queues are paused; the
    accounts' rows stay locked until the transaction ends."""
    conn = session.connection()
    paused = {a for a, at in lock_accounts(conn, account_ids).items() if at is not None}
    schedules = {s.account_id: s for s in session.scalars(
        select(AccountSchedule).where(AccountSchedule.account_id.in_(list(account_ids))))}
    found: dict[str, datetime] = {}
    for account_id in account_ids:
        schedule = schedules.get(account_id)
        if schedule is None or not schedule.slots:
            raise Invalid(f"The account {account_id!r} has no posting schedule, so it has no "
                          "next slot; set one (PUT /api/v1/accounts/{id}/schedule) or give "
                          "run_at a time.")
        slot = free_slots(slots_of(schedule), zone(schedule.timezone), after=now,
                          taken=taken_slots(conn, account_id, now))
        if not slot:
            raise Invalid(f"The account {account_id!r} has no free slot in the next five "
                          "years; add slots to its schedule.")
        found[account_id] = slot[0]
    return found, paused


def empty_slots_between(session: Session, account_id: str, start: datetime, end: datetime,
                        *, now: datetime, limit: int = 500) -> list[datetime]:
    """The account's free slots from `start` (or now, if later) to `end` (the calendar's
    drop targets); none without a schedule."""
    schedule = session.get(AccountSchedule, account_id)
    if schedule is None:
        return []
    after = max(start, now)
    taken = set(taken_slots(session.connection(), account_id, after))
    found: list[datetime] = []
    for when, _ in slot_times(slots_of(schedule), zone(schedule.timezone), after=after):
        if when >= end or len(found) >= limit:
            break
        if when not in taken:
            found.append(when)
    return found


def parse_slots(given: list[str]) -> list[SlotIn]:
    """"mon-fri 09:00,17:30" or "sat@11:00": days (a range or a comma list), then times."""
    slots: list[SlotIn] = []
    for text in given:
        days, _, times = text.replace("@", " ").strip().partition(" ")
        if not times.strip():
            raise AppError(f"slot {text!r} needs days and times, e.g. 'mon-fri 09:00,17:30'")
        for day in _days(days):
            slots += [SlotIn(weekday=day, time=t.strip()) for t in times.split(",")
                      if t.strip()]
    return slots


def _days(text: str) -> list[str]:
    found: list[str] = []
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        if not last:
            found.append(first)
            continue
        if first[:3] not in WEEKDAYS or last[:3] not in WEEKDAYS:
            raise AppError(f"{part!r} is not a range of weekdays such as 'mon-fri'")
        start, end = WEEKDAYS.index(first[:3]), WEEKDAYS.index(last[:3])
        found += [WEEKDAYS[(start + i) % 7] for i in range((end - start) % 7 + 1)]
    return found
