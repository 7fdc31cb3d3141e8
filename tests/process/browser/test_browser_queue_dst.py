"""Issue 15's "Done when" in a real browser: the schedule set on the account's queue
page, twenty posts added with compose's "Add to queue", each in its slot across a
daylight-saving change (the Herald's clock is set to the week before it: tests/dst_plan.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from herald import services
from herald.models import Post, PostSchedule
from herald.runtime import Herald
from herald.schemas import AccountCreate
from tests import dst_plan
from tests.app.web.conftest import Member, add_member
from tests.process.browser.live import LiveHerald, start_live
from tests.process.browser.test_browser import (  # noqa: F401 (fixtures)
    browser,
    page,
    shot,
    sign_in,
)


@pytest.fixture
def live(herald: Herald, settings: Any) -> Iterator[LiveHerald]:
    if herald.db.dialect != "sqlite":
        pytest.skip("browser tests run on SQLite only")
    server = start_live(settings, clock=dst_plan.clock)
    yield server
    server.stop()


@pytest.fixture
def member(live: LiveHerald, company: tuple[str, str]) -> Member:
    return add_member(live.herald, company[0], timezone=dst_plan.ZONE)


def test_twenty_posts_added_to_the_queue_land_in_their_slots_across_dst(
    live: LiveHerald, page: Any, member: Member,  # noqa: F811 (the fixtures above)
    company: tuple[str, str],
) -> None:
    herald = live.herald
    with herald.db.session() as session:
        account = services.create_account(session, herald.context(company[0]), AccountCreate(
            platform="facebook", name="Acme Facebook", sandbox=True))
    tab = page
    sign_in(tab, member)
    tab.goto(f"/accounts/{account.id}/queue")
    tab.get_by_label("Time zone").fill(dst_plan.ZONE)
    tab.get_by_label("Slots").fill("\n".join(dst_plan.SLOT_LINES))
    tab.get_by_role("button", name="Save the schedule").click()
    tab.get_by_text("Schedule saved.").wait_for()

    for n in range(dst_plan.POSTS):
        tab.goto("/compose")
        tab.get_by_role("checkbox", name=re.compile("Acme Facebook")).check()
        tab.get_by_label("Caption", exact=True).fill(f"Queued {n:02d}")
        tab.get_by_role("button", name="Add to queue").click()
        tab.get_by_text(re.compile(r"Added 1 post to the queue")).wait_for()

    tab.goto(f"/accounts/{account.id}/queue")
    items = tab.locator(".queue-item")
    assert items.count() == dst_plan.POSTS
    shown = [items.nth(i).locator("time").first.get_attribute("datetime") or ""
             for i in range(dst_plan.POSTS)]
    assert dst_plan.in_berlin(shown) == dst_plan.EXPECTED
    assert [f"Queued {n:02d}" in items.nth(n).inner_text() for n in range(dst_plan.POSTS)
            ] == [True] * dst_plan.POSTS
    shot(tab, "queue-across-dst", full=True)
    with herald.db.session() as session:
        rows = session.execute(select(Post.queue_slot, PostSchedule.run_at)
                               .join(PostSchedule, PostSchedule.post_id == Post.id)
                               .order_by(Post.queue_slot)).all()
    assert dst_plan.in_berlin(r.queue_slot for r in rows) == dst_plan.EXPECTED
    assert dst_plan.in_berlin(r.run_at for r in rows) == dst_plan.EXPECTED
