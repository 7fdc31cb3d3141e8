"""Planning in a real browser: a posting schedule set on its page, "Add to queue" from
compose, the queue reordered, and a post dragged into an empty slot on the calendar."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from herald import services
from herald.models import Post, utcnow
from herald.schemas import AccountCreate, PostCreate, RecurrenceIn
from tests.app.web.conftest import Member
from tests.process.browser.live import LiveHerald
from tests.process.browser.test_browser import (  # noqa: F401 (fixtures)
    browser,
    live,
    member,
    page,
    shot,
    sign_in,
)


def test_schedule_add_to_queue_reorder_and_drop_into_a_slot(
    live: LiveHerald, page: Any, member: Member,  # noqa: F811 (the fixtures above)
    company: tuple[str, str],
) -> None:
    from herald.web.localtime import zone

    paris = zone("Europe/Paris")
    herald = live.herald
    with herald.db.session() as session:
        ctx = herald.context(company[0])
        account = services.create_account(session, ctx, AccountCreate(
            platform="facebook", name="Acme Facebook", sandbox=True))
    tab = page
    sign_in(tab, member)
    tab.goto("/accounts")
    tab.get_by_role("link", name="Schedule and queue").click()
    tab.wait_for_url(re.compile(rf"/accounts/{account.id}/queue$"))
    tab.get_by_label("Time zone").fill("Europe/Paris")
    tab.get_by_label("Slots").fill("mon-fri 09:00,17:30\nsat-sun 11:00")
    tab.get_by_role("button", name="Save the schedule").click()
    tab.get_by_text("Schedule saved.").wait_for()

    for caption in ("First in line", "Second in line"):
        tab.goto("/compose")
        tab.get_by_role("checkbox", name=re.compile("Acme Facebook")).check()
        tab.get_by_label("Caption", exact=True).fill(caption)
        tab.get_by_role("button", name="Add to queue").click()
        tab.get_by_text(re.compile(r"Added 1 post to the queue")).wait_for()
    with herald.db.session() as session:
        queued = {p.caption: p for p in session.query(Post).all()}
    for post in queued.values():
        assert post.queue_slot is not None and post.origin == "queue"
        assert post.queue_slot.astimezone(paris).strftime("%H:%M") in ("09:00", "17:30",
                                                                        "11:00")
    assert queued["First in line"].queue_slot < queued["Second in line"].queue_slot

    tab.goto(f"/accounts/{account.id}/queue")
    items = tab.locator(".queue-item")
    assert items.count() == 2 and "First in line" in items.nth(0).inner_text()
    items.nth(1).get_by_role("button", name=re.compile("earlier")).click()
    tab.get_by_text("Moved.").wait_for()
    assert "Second in line" in tab.locator(".queue-item").nth(0).inner_text()
    shot(tab, "queue", full=True)

    # A weekly series shows on the calendar, marked; empty slots are drop targets. Nine
    # days ahead, the whole week shown is in the future and past the two queued posts
    # (they take the next two daily slots), so it has empty slots whatever day it runs.
    start = (utcnow() + timedelta(days=9)).astimezone(paris).replace(
        hour=13, minute=15, second=0, microsecond=0)
    with herald.unit_of_work() as session:
        services.create_posts(session, herald.context(company[0]), PostCreate(
            account_id=account.id, caption="Weekly news", run_at=start,
            recurrence=RecurrenceIn(rule="FREQ=WEEKLY", timezone="Europe/Paris", count=4)))
    tab.goto(f"/calendar?view=week&date={start.date().isoformat()}&account={account.id}")
    series_chip = tab.locator(".chip", has_text="series").first
    series_chip.wait_for()
    slot = tab.locator(".slot[data-slot]").last
    target = slot.get_attribute("data-slot")
    shot(tab, "calendar-slots")
    post_id = series_chip.get_attribute("data-post")
    series_chip.drag_to(slot)
    tab.locator(".chip", has_text="queued").first.wait_for()
    with herald.db.session() as session:
        moved = session.get(Post, post_id)
    assert moved is not None and moved.queue_slot is not None
    assert moved.queue_slot.isoformat() == target and moved.detached
