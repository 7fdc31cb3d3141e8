"""The iCalendar feed at a secret URL: made and revoked on the settings page, no session."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import update

from herald import services
from herald.models import CalendarFeed, Post, utcnow
from tests.helpers import add_account, add_posts

_FEED = re.compile(r'id="new-feed">([^<]+)<')


def _make_feed(signed_in) -> str:
    page = signed_in.post("/settings/calendar-feed")
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    url = _FEED.search(page.text).group(1)
    return url.removeprefix("http://testserver")


def _events(web_app, path: str):
    with TestClient(web_app) as anonymous:  # a calendar app: no cookie, no session
        response = anonymous.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return response.text, Calendar.from_ical(response.text).walk("VEVENT")


def test_the_feed_lists_scheduled_posts_with_stable_uids(signed_in, web_app, herald, company):
    account = add_account(herald, company[0])
    soon = utcnow() + timedelta(days=1)
    caption = "Launch day, finally; see: " + "a long line " * 10 + "\nsecond line"
    [shown] = add_posts(herald, company[0], account, run_at=soon, caption=caption)
    [far] = add_posts(herald, company[0], account, run_at=utcnow() + timedelta(days=100))
    [old] = add_posts(herald, company[0], account, run_at=soon)
    [cancelled] = add_posts(herald, company[0], account, run_at=soon)
    with herald.unit_of_work() as session:
        services.cancel_post(session, herald.context(company[0]), cancelled)
    with herald.db.engine.begin() as conn:
        conn.execute(update(Post).where(Post.id == old)
                     .values(scheduled_at=utcnow() - timedelta(days=8)))
    path = _make_feed(signed_in)
    assert re.fullmatch(r"/calendar/[A-Za-z0-9_-]{40,}\.ics", path)
    text, events = _events(web_app, path)
    assert [str(e["uid"]) for e in events] == [f"{shown}@herald"]
    event = events[0]
    assert str(event["summary"]).startswith("Facebook · facebook page-1: Launch day, finally;")
    assert str(event["description"]).startswith(caption)
    assert abs((event.decoded("dtstart") - soon).total_seconds()) < 1
    # RFC 5545: commas and semicolons escaped, lines folded at 75 octets.
    assert "Launch day\\, finally\\; see" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert far not in text and cancelled not in text
    _, again = _events(web_app, path)
    assert [str(e["uid"]) for e in again] == [f"{shown}@herald"]


def test_settings_shows_the_feed_and_a_new_address_replaces_the_old(signed_in, web_app,
                                                                     herald):
    assert "You have no calendar feed yet" in signed_in.get("/settings").text
    first = _make_feed(signed_in)
    assert "Your feed is on" in signed_in.get("/settings").text
    second = _make_feed(signed_in)
    with TestClient(web_app) as anonymous:
        assert anonymous.get(first).status_code == 404
        assert anonymous.get(second).status_code == 200
    # Only a hash is stored.
    with herald.db.session() as session:
        stored = session.query(CalendarFeed).one()
    assert stored.token_hash not in second and second.split("/")[-1][:-4] not in (
        stored.token_hash)


def test_a_revoked_or_wrong_token_is_404(signed_in, web_app, herald):
    path = _make_feed(signed_in)
    assert signed_in.post("/settings/calendar-feed/revoke").status_code == 303
    with TestClient(web_app) as anonymous:
        assert anonymous.get(path).status_code == 404
        assert anonymous.get("/calendar/not-a-token.ics").status_code == 404
