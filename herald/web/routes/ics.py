"""The iCalendar feed: /calendar/<secret>.ics for calendar apps (no session), and the
settings page's buttons that make (or remake) and revoke its secret URL."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import Request
from fastapi.responses import Response
from icalendar import Calendar, Event

from herald.errors import NotFound
from herald.models import utcnow
from herald.platforms.registry import DISPLAY_NAMES
from herald.services import calendar_feed
from herald.services.calendar_feed import FeedEvent
from herald.web import sessions
from herald.web.deps import HeraldDep, UserDep
from herald.web.routes import see_other, web_router
from herald.web.routes.settings import _page as settings_page

router = web_router()
#: An event's length on the calendar: a post is a moment, but a zero-length event is
#: drawn as a sliver (or not at all) by some calendar apps.
EVENT_LENGTH = timedelta(minutes=15)
#: How each origin is marked, as the web calendar marks it: a sign before the summary
#: (what a calendar app's grid shows), a category, and a line of the description.
ORIGIN_MARKS = {
    "series": ("↻ ", "Series", "An occurrence of a recurring series."),
    "evergreen": ("♻ ", "Evergreen", "An evergreen refill of an empty slot."),
    "queue": ("", "Queued", "In a slot of the account's queue."),
}


@router.get("/calendar/{token}.ics")
def feed(token: str, herald: HeraldDep) -> Response:
    now = utcnow()
    with herald.db.session() as session:
        company_id = calendar_feed.feed_company(session, token)
        if company_id is None:
            raise NotFound("No such calendar feed; it may have been replaced or revoked.")
        events = calendar_feed.feed_events(session, company_id=company_id, now=now)
    body = render(events, public_url=herald.settings.public_url, now=now)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=300"})


def render(events: list[FeedEvent], *, public_url: str, now: datetime) -> bytes:
    """RFC 5545 text; the icalendar library does the escaping and the line folding."""
    cal = Calendar()
    cal.add("prodid", "-//Herald//Scheduled posts//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Herald: scheduled posts")
    for item in events:
        event = Event()
        # The post's id: the same event on every fetch, so apps update it, not duplicate.
        event.add("uid", f"{item.post_id}@herald")
        event.add("dtstamp", now)
        event.add("last-modified", item.updated_at)
        event.add("dtstart", item.at)
        event.add("dtend", item.at + EVENT_LENGTH)
        first_line = (item.caption.strip().splitlines() or [""])[0]
        sign, category, said = ORIGIN_MARKS.get(item.origin or "", ("", None, None))
        event.add("summary", f"{sign}{DISPLAY_NAMES.get(item.platform, item.platform)} · "
                             f"{item.account}: {first_line[:80]}".rstrip(": "))
        event.add("description", f"{item.caption}\n\nStatus: {item.status}"
                  + (f"\n{said}" if said else "")
                  + (f"\n{item.permalink}" if item.permalink else ""))
        if category:
            event.add("categories", [category])
        event.add("url", f"{public_url}/posts/{item.post_id}")
        cal.add_component(event)
    text: bytes = cal.to_ical()
    return text


@router.post("/settings/calendar-feed")
def make_feed(request: Request, herald: HeraldDep, user: UserDep) -> Response:
    with herald.unit_of_work() as session:
        token = calendar_feed.new_feed(session, user_id=user.id, now=utcnow())
    url = f"{herald.settings.public_url}/calendar/{token}.ics"
    # Shown once, in this answer only: Herald keeps a hash of the secret.
    response = settings_page(request, herald, user, new_feed=url)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/settings/calendar-feed/revoke")
def revoke_feed(request: Request, herald: HeraldDep, user: UserDep) -> Response:
    with herald.unit_of_work() as session:
        calendar_feed.revoke_feed(session, user_id=user.id)
    sessions.flash(request, "The calendar feed is revoked; its URL no longer works.")
    return see_other("/settings")
