"""The calendar: month and week views in the user's time zone."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from herald.errors import Invalid
from herald.models import utcnow
from herald.planning import schedules
from herald.web import queries
from herald.web.calendar_grid import PER_DAY, View, grid, place, place_slots
from herald.web.deps import HeraldDep, UserDep
from herald.web.localtime import parse_date
from herald.web.render import page
from herald.web.routes import web_router

router = web_router()


@router.get("/calendar")
def calendar(request: Request, herald: HeraldDep, user: UserDep, view: str = "month",
             day: Annotated[str, Query(alias="date")] = "", account: str = "") -> Response:
    today = utcnow().astimezone(user.tz).date()
    shown: View = "week" if view == "week" else "month"
    anchor = _anchor(day, today)
    g = grid(shown, anchor, today)
    bounds = g.bounds(user.tz)
    with herald.db.session() as session:
        accounts = queries.accounts_by_id(session, user.company_id)
        chips, totals = queries.calendar_chips(
            session, user.company_id, bounds, PER_DAY[shown],
            account_id=account if account in accounts else None)
        empty = (schedules.empty_slots_between(session, account, bounds[0], bounds[-1],
                                               now=utcnow())
                 if account in accounts else [])
    place(g, chips, totals, user.tz)
    place_slots(g, empty, user.tz)
    return page(request, "calendar.html", user, title=f"Calendar — {g.title}",
                active="calendar", grid=g, accounts=accounts, account=account)


def _anchor(value: str, today: date) -> date:
    if not value:
        return today
    try:
        return parse_date(value)
    except Invalid:
        return today
