"""An account's posting schedule and queue: set the slots, move, shuffle, pause, resume."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError

from herald.errors import AppError, Invalid
from herald.planning import queueing, schedules
from herald.planning.schedules import parse_slots
from herald.planning.schemas import MoveIn, ScheduleIn, ScheduleOut
from herald.runtime import Herald
from herald.web import sessions
from herald.web.deps import ContextDep, HeraldDep, UserDep, WebUser
from herald.web.render import page
from herald.web.routes import see_other, web_router

router = web_router()


def slot_lines(out: ScheduleOut) -> str:
    """The schedule as the form's text: one line a weekday, its times."""
    lines = []
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        times = [s.time for s in out.slots if s.weekday == day and not s.category]
        if times:
            lines.append(f"{day} {','.join(times)}")
    return "\n".join(lines)


def _page(request: Request, herald: Herald, user: WebUser, account_id: str, *,
          status_code: int = 200, **values: Any) -> Response:
    ctx = herald.context(user.company_id)
    with herald.db.session() as session:
        account = schedules.account_of(session, ctx, account_id)
        schedule = schedules.schedule_out(session, ctx, account_id)
        queue = queueing.queue_out(session, ctx, account_id, empty=10)
    context: dict[str, Any] = {"error": None,
                               "timezone": schedule.timezone if schedule.slots
                               else user.timezone, "slots": slot_lines(schedule)}
    context.update(values)
    return page(request, "queue.html", user, title=f"Queue — {account.name}",
                active="accounts", account=account, schedule=schedule, queue=queue,
                status_code=status_code, **context)


@router.get("/accounts/{account_id}/queue")
def queue_page(request: Request, account_id: str, herald: HeraldDep, user: UserDep
               ) -> Response:
    return _page(request, herald, user, account_id)


@router.post("/accounts/{account_id}/schedule")
def save_schedule(request: Request, account_id: str, herald: HeraldDep, user: UserDep,
                  ctx: ContextDep, timezone: Annotated[str, Form()] = "",
                  slots: Annotated[str, Form()] = "") -> Response:
    try:
        data = ScheduleIn(timezone=timezone.strip() or user.timezone,
                          slots=parse_slots([line for line in slots.splitlines()
                                             if line.strip()]))
        with herald.unit_of_work() as session:
            schedules.set_schedule(session, ctx, account_id, data)
    except (AppError, ValidationError) as exc:
        message = exc.message if isinstance(exc, AppError) else "; ".join(
            str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        if isinstance(exc, AppError) and exc.status == 404:
            raise
        return _page(request, herald, user, account_id, status_code=422, error=message,
                     timezone=timezone, slots=slots)
    sessions.flash(request, "Schedule saved.", "ok")
    return see_other(f"/accounts/{account_id}/queue")


@router.post("/accounts/{account_id}/queue/{action}")
def queue_action(request: Request, account_id: str, action: str, herald: HeraldDep,
                 user: UserDep, ctx: ContextDep, post: Annotated[str, Form()] = "",
                 direction: Annotated[str, Form()] = "") -> Response:
    """pause, resume, shuffle, or move (a post up or down)."""
    done = {"pause": "Queue paused: nothing of this account goes out until you resume.",
            "resume": "Queue resumed.", "shuffle": "Queue shuffled.", "move": "Moved."}
    if action not in done:
        raise Invalid(f"unknown queue action {action!r}")
    try:
        with herald.unit_of_work() as session:
            if action == "move":
                if direction not in ("up", "down"):
                    raise Invalid("move up or down")
                queueing.move(session, ctx, account_id, post,
                              MoveIn(direction="up" if direction == "up" else "down"))
            else:
                getattr(queueing, action)(session, ctx, account_id)
    except AppError as exc:
        if exc.status == 404:
            raise
        sessions.flash(request, exc.message, "error")
        return see_other(f"/accounts/{account_id}/queue")
    sessions.flash(request, done[action], "ok")
    return see_other(f"/accounts/{account_id}/queue")


@router.post("/calendar/slot")
def drop_in_slot(herald: HeraldDep, user: UserDep, ctx: ContextDep,
                 post: Annotated[str, Form()] = "", account: Annotated[str, Form()] = "",
                 slot: Annotated[str, Form()] = "") -> Response:
    """The calendar's drag and drop into an empty slot of an account's schedule."""
    try:
        try:
            when = datetime.fromisoformat(slot)
        except ValueError:
            raise Invalid(f"{slot!r} is not a slot time") from None
        with herald.unit_of_work() as session:
            queueing.move(session, ctx, account, post, MoveIn(slot=when))
    except AppError as exc:
        return PlainTextResponse(exc.message, status_code=exc.status)
    return PlainTextResponse(f"Moved to {when.astimezone(user.tz):%a %-d %b, %H:%M}.")
