"""Posting schedules and queues: /accounts/{id}/schedule and /accounts/{id}/queue…"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.planning import queueing, schedules
from herald.planning.schemas import MoveIn, QueueOut, ScheduleIn, ScheduleOut

router = APIRouter(prefix="/accounts", tags=["schedules and queues"],
                   responses=documented(401, 404, 422))


@router.get("/{account_id}/schedule")
def get_schedule(account_id: str, herald: HeraldDep, ctx: ContextDep) -> ScheduleOut:
    """The account's weekly slots and their zone (no slots until one is set)."""
    with herald.db.session() as session:
        return schedules.schedule_out(session, ctx, account_id)


@router.put("/{account_id}/schedule", responses=documented(400, 413))
def put_schedule(account_id: str, data: ScheduleIn, herald: HeraldDep,
                 ctx: ContextDep) -> ScheduleOut:
    """Replace the schedule; posts already queued keep their times."""
    with herald.unit_of_work() as session:
        return schedules.set_schedule(session, ctx, account_id, data)


@router.get("/{account_id}/queue")
def get_queue(account_id: str, herald: HeraldDep, ctx: ContextDep,
              empty: Annotated[int, Query(ge=0, le=200)] = 10) -> QueueOut:
    """The account's queued posts in slot order, and its next `empty` free slots."""
    with herald.db.session() as session:
        return queueing.queue_out(session, ctx, account_id, empty=empty)


@router.post("/{account_id}/queue/{post_id}/move", responses=documented(400, 409, 413))
def move_post(account_id: str, post_id: str, data: MoveIn, herald: HeraldDep,
              ctx: ContextDep) -> QueueOut:
    """Move a post up or down (it swaps times with its neighbour) or to an empty slot."""
    with herald.unit_of_work() as session:
        return queueing.move(session, ctx, account_id, post_id, data)


@router.post("/{account_id}/queue/shuffle", responses=documented(409))
def shuffle_queue(account_id: str, herald: HeraldDep, ctx: ContextDep) -> QueueOut:
    """Deal the queue's times out to its pending posts again, at random."""
    with herald.unit_of_work() as session:
        return queueing.shuffle(session, ctx, account_id)


@router.post("/{account_id}/queue/pause")
def pause_queue(account_id: str, herald: HeraldDep, ctx: ContextDep) -> QueueOut:
    """Hold every pending post of the account (status stays pending, queue_status held)."""
    with herald.unit_of_work() as session:
        return queueing.pause(session, ctx, account_id)


@router.post("/{account_id}/queue/resume")
def resume_queue(account_id: str, herald: HeraldDep, ctx: ContextDep) -> QueueOut:
    """Let held posts go; queued ones whose slot passed take the next free slots."""
    with herald.unit_of_work() as session:
        return queueing.resume(session, ctx, account_id)
