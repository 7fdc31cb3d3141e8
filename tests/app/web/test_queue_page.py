"""The web UI's schedule and queue page, "Add to queue" in compose, the calendar's slots."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from herald import services
from herald.models import Post, PostSchedule, utcnow
from herald.schemas import PostCreate, RecurrenceIn
from tests.helpers import add_account


def _account(herald, member):
    return add_account(herald, member.company_id)


def test_set_a_schedule_queue_posts_and_reorder_them(signed_in, herald, member):
    account = _account(herald, member)
    page = signed_in.get(f"/accounts/{account}/queue")
    assert page.status_code == 200 and "No schedule yet" in page.text
    saved = signed_in.post(f"/accounts/{account}/schedule", data={
        "timezone": "Europe/Berlin", "slots": "mon-fri 09:00,17:30\nsat 11:00"})
    assert saved.status_code == 303, saved.text
    page = signed_in.get(f"/accounts/{account}/queue").text
    assert "Schedule saved." in page and "mon 09:00,17:30" in page
    for n in range(2):
        made = signed_in.post("/compose", data={"account_ids": account, "caption": f"Q{n}",
                                                "post_type": "feed", "action": "queue"})
        assert made.status_code == 303, made.text
    page = signed_in.get(f"/accounts/{account}/queue").text
    assert page.index("Q0") < page.index("Q1")
    with herald.db.session() as s:
        second = s.scalars(select(Post).where(Post.caption == "Q1")).one()
    moved = signed_in.post(f"/accounts/{account}/queue/move",
                           data={"post": second.id, "direction": "up"})
    assert moved.status_code == 303
    page = signed_in.get(f"/accounts/{account}/queue").text
    assert page.index("Q1") < page.index("Q0")
    assert signed_in.post(f"/accounts/{account}/queue/pause").status_code == 303
    page = signed_in.get(f"/accounts/{account}/queue").text
    assert "Resume the queue" in page and "held" in page
    with herald.db.session() as s:
        assert set(s.scalars(select(PostSchedule.status))) == {"held"}
    signed_in.post(f"/accounts/{account}/queue/resume")
    assert "Pause the queue" in signed_in.get(f"/accounts/{account}/queue").text


def test_a_bad_schedule_is_shown_with_its_reason_and_not_saved(signed_in, herald, member):
    account = _account(herald, member)
    refused = signed_in.post(f"/accounts/{account}/schedule", data={
        "timezone": "Europe/Berlin", "slots": "mon 25:00"})
    assert refused.status_code == 422
    assert "slot time &#39;25:00&#39; is not a time of day" in refused.text
    refused = signed_in.post(f"/accounts/{account}/schedule", data={
        "timezone": "Mars/Olympus", "slots": "mon 09:00"})
    assert refused.status_code == 422 and "unknown time zone" in refused.text
    assert "No schedule yet" in signed_in.get(f"/accounts/{account}/queue").text


def test_add_to_queue_without_a_schedule_says_so(signed_in, herald, member):
    account = _account(herald, member)
    refused = signed_in.post("/compose", data={"account_ids": account, "caption": "x",
                                               "post_type": "feed", "action": "queue"})
    assert refused.status_code == 422 and "has no posting schedule" in refused.text


def test_the_calendar_marks_series_and_shows_empty_slots_to_drop_on(signed_in, herald,
                                                                   member):
    account = _account(herald, member)
    signed_in.post(f"/accounts/{account}/schedule", data={
        "timezone": "UTC", "slots": "mon-sun 10:00"})
    start = (utcnow() + timedelta(days=1)).replace(hour=15, minute=0, second=0,
                                                   microsecond=0)
    with herald.unit_of_work() as session:
        services.create_posts(session, herald.context(member.company_id), PostCreate(
            account_id=account, caption="weekly", run_at=start,
            recurrence=RecurrenceIn(rule="FREQ=WEEKLY", timezone="UTC", count=3)))
    when = start.strftime("%Y-%m-%d")
    page = signed_in.get(f"/calendar?view=week&date={when}&account={account}").text
    assert "↻ series" in page
    assert page.count('class="slot"') >= 2 and 'data-account="' in page
    without = signed_in.get(f"/calendar?view=week&date={when}").text
    assert 'class="slot"' not in without and "↻ series" in without
    # a post dropped into an empty slot takes it and joins the queue
    with herald.db.session() as s:
        post = s.scalars(select(Post)).first()
    slot = (start + timedelta(days=1)).replace(hour=10).isoformat()
    dropped = signed_in.post("/calendar/slot", data={"post": post.id, "account": account,
                                                     "slot": slot})
    assert dropped.status_code == 200, dropped.text
    with herald.db.session() as s:
        moved = s.get(Post, post.id)
        assert moved.queue_slot.isoformat() == slot and moved.detached
    taken = signed_in.post("/calendar/slot", data={"post": post.id, "account": account,
                                                   "slot": slot})
    assert taken.status_code == 409 and "taken" in taken.text
