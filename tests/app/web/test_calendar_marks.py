"""The calendar and the iCalendar feed mark what placed each post: a series' occurrence,
an evergreen refill, a post in a slot of the queue (and nothing on a post with a time of
its own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from herald import services
from herald.models import utcnow
from herald.planning import schedules
from herald.planning.loop import Planner
from herald.planning.schemas import ScheduleIn, SlotIn
from herald.planning.series import create_series
from herald.schemas import EvergreenIn, PostCreate, RecurrenceIn
from tests.app.web.test_calendar_feed import _make_feed
from tests.helpers import add_account


def _next_monday() -> datetime:
    """06:00 UTC on a Monday two to eight days ahead: within the feed's window."""
    day = (utcnow() + timedelta(days=2)).replace(hour=6, minute=0, second=0, microsecond=0)
    return day + timedelta(days=(7 - day.weekday()) % 7)


@pytest.fixture
def planned(herald, company):
    """On one Monday: 09:00 a queued post, 12:00 an evergreen refill, 15:00 a series'
    occurrence, 18:00 a post with a time of its own (slots are 09:00 and 12:00 UTC)."""
    monday = _next_monday()
    ctx = herald.context(company[0])
    ctx.now = lambda: monday
    account = add_account(herald, company[0])
    with herald.unit_of_work() as session:
        schedules.set_schedule(session, ctx, account, ScheduleIn(timezone="UTC", slots=[
            SlotIn(weekday="mon", time="09:00"), SlotIn(weekday="mon", time="12:00")]))
        create_series(session, ctx, PostCreate(
            account_id=account, caption="Library tip", evergreen=EvergreenIn(categories=[])),
            window_days=35)
    creates = [PostCreate(account_id=account, caption="Queued news", run_at="next_slot"),
               PostCreate(account_id=account, caption="Weekly digest",
                          run_at=monday + timedelta(hours=9),
                          recurrence=RecurrenceIn(rule="FREQ=WEEKLY", timezone="UTC",
                                                  count=2)),
               PostCreate(account_id=account, caption="Own time",
                          run_at=monday + timedelta(hours=12))]
    for data in creates:
        with herald.unit_of_work() as session:
            services.create_posts(session, ctx, data)
    planner = Planner(herald.db, herald.context, window=timedelta(days=35),
                      lead=timedelta(hours=12), gap=timedelta(days=30))
    assert planner.run_once(monday).refills == 1
    return monday


def test_the_feed_marks_series_occurrences_refills_and_queued_posts(signed_in, web_app,
                                                                     planned):
    path = _make_feed(signed_in)
    with TestClient(web_app) as anonymous:  # a calendar app: no session
        response = anonymous.get(path)
    assert response.status_code == 200, response.text
    events = Calendar.from_ical(response.text).walk("VEVENT")
    by_caption = {str(e["description"]).split("\n")[0]: e for e in events}
    assert sorted(by_caption) == ["Library tip", "Own time", "Queued news", "Weekly digest"]
    expected = {"Weekly digest": ("↻ ", "Series", "An occurrence of a recurring series."),
                "Library tip": ("♻ ", "Evergreen", "An evergreen refill of an empty slot."),
                "Queued news": ("", "Queued", "In a slot of the account's queue.")}
    for caption, (sign, category, said) in expected.items():
        event = by_caption[caption]
        assert str(event["summary"]) == f"{sign}Facebook · facebook page-1: {caption}"
        assert [str(c) for c in event["categories"].cats] == [category]
        assert said in str(event["description"])
    plain = by_caption["Own time"]
    assert "categories" not in plain
    assert str(plain["summary"]) == "Facebook · facebook page-1: Own time"
    starts = {c: e.decoded("dtstart").astimezone(UTC).strftime("%H:%M")
              for c, e in by_caption.items()}
    assert starts == {"Queued news": "09:00", "Library tip": "12:00",
                      "Weekly digest": "15:00", "Own time": "18:00"}


def test_the_web_calendar_marks_them_too(signed_in, planned):
    page = signed_in.get(f"/calendar?view=week&date={planned.date().isoformat()}").text
    for caption, tag in (("Weekly digest", "↻ series"), ("Library tip", "♻ evergreen"),
                         ("Queued news", ">queued<")):
        chip = _chip(page, caption)
        assert tag in chip, chip
    assert not any(tag in _chip(page, "Own time")
                   for tag in ("↻ series", "♻ evergreen", ">queued<"))


def _chip(page: str, caption: str) -> str:
    """The chip (one <li> or <a> of the calendar) that holds the caption."""
    at = page.index(caption)
    start = max(page.rfind('class="chip', 0, at), 0)
    end = page.find("</a>", at)
    return page[start:end if end != -1 else at + 400]
