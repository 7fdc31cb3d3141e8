"""An account's queue: listed in slot order, reordered, shuffled, paused and resumed.

The queue is the account's pending posts that hold a slot of its schedule (added with
"next_slot", or evergreen refills). Reordering moves slots, never posts' contents: a move
swaps two entries' times, a shuffle deals the same times out again. Every change locks
the account's row first (schedules.lock_accounts), as "next_slot" does, so two changes
of one queue, or a change and an "Add to queue", happen one after the other.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald import queue
from herald.errors import Conflict, Invalid, NotFound
from herald.models import AccountSchedule, Post, PostSchedule
from herald.permissions import Permission
from herald.planning.schedules import account_of, lock_accounts, slots_of, taken_slots
from herald.planning.schemas import MoveIn, QueueItem, QueueOut
from herald.planning.slots import free_slots, slot_times, zone
from herald.queue.holds import hold_account, release_account
from herald.schemas import PostOut
from herald.services.context import Context
from herald.statuses import PostStatus, QueueStatus

QUEUED_ORIGINS = ("queue", "evergreen")


@dataclass
class Entry:
    """One slot of the queue and the posts holding it (two for a split type)."""

    slot: datetime
    posts: list[Post]

    @property
    def origin(self) -> str | None:
        return self.posts[0].origin


def entries(session: Session, account_id: str, *, after: datetime) -> list[Entry]:
    """The account's queued posts not yet out whose slot is after `after`, by slot."""
    found: dict[datetime, Entry] = {}
    for post in session.scalars(
            select(Post).where(Post.account_id == account_id, Post.queue_slot > after,
                               Post.status.in_((PostStatus.PENDING, PostStatus.PROCESSING)))
            .order_by(Post.queue_slot, Post.post_type)):
        assert post.queue_slot is not None
        found.setdefault(post.queue_slot, Entry(post.queue_slot, [])).posts.append(post)
    return list(found.values())


def queue_out(session: Session, ctx: Context, account_id: str, *, empty: int = 10
              ) -> QueueOut:
    account = account_of(session, ctx, account_id)
    now = ctx.now()
    listed = entries(session, account_id, after=now)
    statuses = {r.post_id: r.status for r in session.execute(
        select(PostSchedule.post_id, PostSchedule.status).where(
            PostSchedule.post_id.in_([p.id for e in listed for p in e.posts])))}
    schedule = session.get(AccountSchedule, account_id)
    open_slots: list[datetime] = []
    if schedule is not None and empty > 0:
        open_slots = free_slots(slots_of(schedule), zone(schedule.timezone), after=now,
                                taken=[e.slot for e in listed], count=empty)
    return QueueOut(
        account_id=account_id, timezone=schedule.timezone if schedule else None,
        paused=account.queue_paused_at is not None, paused_at=account.queue_paused_at,
        items=[QueueItem(slot=e.slot, origin=e.origin,
                         queue_status=statuses.get(e.posts[0].id),
                         posts=[PostOut.model_validate(p) for p in e.posts])
               for e in listed],
        empty_slots=open_slots)


def _locked_queue(session: Session, ctx: Context, account_id: str) -> list[Entry]:
    account_of(session, ctx, account_id, permission=Permission.SCHEDULE)
    lock_accounts(session.connection(), [account_id])
    return entries(session, account_id, after=ctx.now())


def _movable(session: Session, entry: Entry) -> None:
    """Lock the entry's queue rows; 409 when a worker is publishing one of them."""
    conn = session.connection()
    for post in entry.posts:
        if (queue.lock_for_edit(conn, post_id=post.id) == QueueStatus.PROCESSING
                or post.status != PostStatus.PENDING):
            raise Conflict("The post is being published right now; it can no longer move.")


def _assign(session: Session, ctx: Context, moves: Sequence[tuple[Entry, datetime]]) -> None:
    """Give each entry its new slot: first every slot let go, then each taken (the
    unique slot per account would refuse a swap done in one step)."""
    for entry, _ in moves:
        for post in entry.posts:
            post.queue_slot = None
    session.flush()
    conn, now = session.connection(), ctx.now()
    for entry, slot in moves:
        for post in entry.posts:
            post.queue_slot, post.scheduled_at, post.updated_at = slot, slot, now
            queue.reschedule(conn, post_id=post.id, run_at=slot, now=now)
        entry.slot = slot
    session.flush()


def move(session: Session, ctx: Context, account_id: str, post_id: str,
         data: MoveIn) -> QueueOut:
    """Move a post up or down its account's queue (the two swap times), or to an empty
    slot of the schedule (a post with a time of its own joins the queue so)."""
    if (data.direction is None) == (data.slot is None):
        raise Invalid('give either "direction" ("up" or "down") or "slot" (an empty slot)')
    listed = _locked_queue(session, ctx, account_id)
    if data.slot is not None:
        return _move_to_slot(session, ctx, account_id, post_id, listed, data.slot)
    index = next((i for i, e in enumerate(listed) if any(p.id == post_id for p in e.posts)),
                 None)
    if index is None:
        raise NotFound(f"No post with id {post_id!r} in this account's queue.")
    other = index - 1 if data.direction == "up" else index + 1
    if 0 <= other < len(listed):
        mine, theirs = listed[index], listed[other]
        _movable(session, mine)
        _movable(session, theirs)
        _assign(session, ctx, [(mine, theirs.slot), (theirs, mine.slot)])
    return queue_out(session, ctx, account_id)


def _move_to_slot(session: Session, ctx: Context, account_id: str, post_id: str,
                  listed: list[Entry], slot: datetime) -> QueueOut:
    if slot.tzinfo is None:
        raise Invalid("slot needs a timezone, e.g. 2026-12-07T09:00:00+01:00")
    post = session.get(Post, post_id)
    if post is None or post.company_id != ctx.company_id or post.account_id != account_id:
        raise NotFound(f"No post with id {post_id!r} for this account.")
    schedule = session.get(AccountSchedule, account_id)
    if schedule is None:
        raise Invalid("The account has no posting schedule, so it has no slots.")
    now = ctx.now()
    if slot <= now:
        raise Invalid("slot is in the past; pick one of the queue's empty slots")
    known = False
    for when, _ in slot_times(slots_of(schedule), zone(schedule.timezone), after=now):
        if when >= slot:
            known = when == slot
            break
    if not known:
        raise Invalid(f"{slot.isoformat()} is not a slot of the account's schedule.")
    if slot in taken_slots(session.connection(), account_id, now):
        raise Conflict("That slot is taken; move the post up or down instead, or pick an "
                       "empty slot.")
    siblings = [p for p in session.scalars(select(Post).where(
        Post.group_id == post.group_id, Post.account_id == account_id))
        if p.status == PostStatus.PENDING]
    if not siblings:
        raise Conflict(f"The post is {post.status}; only pending posts can move.")
    entry = Entry(post.queue_slot or slot, siblings)
    _movable(session, entry)
    for p in siblings:
        p.origin = p.origin if p.origin in QUEUED_ORIGINS else "queue"
        p.detached = p.detached or p.series_id is not None
    _assign(session, ctx, [(entry, slot)])
    return queue_out(session, ctx, account_id)


def shuffle(session: Session, ctx: Context, account_id: str, *,
            rng: random.Random | None = None) -> QueueOut:
    """Deal the queue's times out to its posts again, at random (pending posts only)."""
    listed = [e for e in _locked_queue(session, ctx, account_id)
              if all(p.status == PostStatus.PENDING for p in e.posts)]
    for entry in listed:
        _movable(session, entry)
    slots = [e.slot for e in listed]
    order = list(listed)
    (rng or random.SystemRandom()).shuffle(order)
    _assign(session, ctx, list(zip(order, slots, strict=True)))
    return queue_out(session, ctx, account_id)


def pause(session: Session, ctx: Context, account_id: str) -> QueueOut:
    """Hold every pending post of the account until the queue is resumed."""
    account = account_of(session, ctx, account_id, permission=Permission.SCHEDULE)
    if lock_accounts(session.connection(), [account_id])[account_id] is None:
        account.queue_paused_at = ctx.now()
        session.flush()
        hold_account(session.connection(), account_id=account_id, now=ctx.now())
    return queue_out(session, ctx, account_id)


def resume(session: Session, ctx: Context, account_id: str) -> QueueOut:
    """Let the held posts go again. Queued posts whose slot passed meanwhile take the
    next free slots, in their order; posts with a time of their own that passed go now."""
    account = account_of(session, ctx, account_id, permission=Permission.SCHEDULE)
    conn = session.connection()
    if lock_accounts(conn, [account_id])[account_id] is None:
        return queue_out(session, ctx, account_id)
    now = ctx.now()
    _reslot_overdue(session, ctx, account_id, now)
    account.queue_paused_at = None
    session.flush()
    release_account(conn, account_id=account_id, now=now)
    return queue_out(session, ctx, account_id)


def _reslot_overdue(session: Session, ctx: Context, account_id: str, now: datetime) -> None:
    overdue: dict[datetime, Entry] = {}
    for post in session.scalars(
            select(Post).where(Post.account_id == account_id, Post.queue_slot <= now,
                               Post.status == PostStatus.PENDING)
            .order_by(Post.queue_slot, Post.post_type)):
        assert post.queue_slot is not None
        overdue.setdefault(post.queue_slot, Entry(post.queue_slot, [])).posts.append(post)
    schedule = session.get(AccountSchedule, account_id)
    if not overdue or schedule is None:
        return
    fresh = free_slots(slots_of(schedule), zone(schedule.timezone), after=now,
                       taken=taken_slots(session.connection(), account_id, now),
                       count=len(overdue))
    _assign(session, ctx, list(zip(overdue.values(), fresh, strict=False)))
