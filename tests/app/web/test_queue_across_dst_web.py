"""Issue 15's "Done when" from the web UI's forms: a schedule set on the account's queue
page, twenty posts added with compose's "Add to queue", each in its slot across a
daylight-saving change (tests/dst_plan.py; the same in Chromium:
tests/process/browser/test_browser_queue_dst.py)."""

from __future__ import annotations

import re
from dataclasses import replace

from fastapi.testclient import TestClient
from sqlalchemy import select

from herald.models import Post, PostSchedule
from herald.sandbox import Sandbox
from tests import dst_plan
from tests.app.web.conftest import add_member, build_app, sign_in
from tests.helpers import add_account

_QUEUE = re.compile(r'<ol class="queue"[^>]*>(.*?)</ol>', re.S)
_TIME = re.compile(r'<time datetime="([^"]+)"')


def test_from_the_web_ui(herald, company):
    account = add_account(herald, company[0])
    member = add_member(herald, company[0], timezone=dst_plan.ZONE)
    clocked = replace(herald, clock=dst_plan.clock, sandbox=herald.sandbox or Sandbox())
    with TestClient(build_app(clocked), follow_redirects=False) as client:
        web = sign_in(client, member.email)
        saved = web.post(f"/accounts/{account}/schedule", data={
            "timezone": dst_plan.ZONE, "slots": "\n".join(dst_plan.SLOT_LINES)})
        assert saved.status_code == 303, saved.text
        for n in range(dst_plan.POSTS):
            made = web.post("/compose", data={"account_ids": account,
                                              "caption": f"Queued {n:02d}",
                                              "post_type": "feed", "action": "queue"})
            assert made.status_code == 303, made.text
        page = web.get(f"/accounts/{account}/queue").text
    listed = _QUEUE.search(page)
    assert listed, page
    assert dst_plan.in_berlin(_TIME.findall(listed.group(1))) == dst_plan.EXPECTED
    positions = [listed.group(1).index(f"Queued {n:02d}") for n in range(dst_plan.POSTS)]
    assert positions == sorted(positions)
    with herald.db.session() as session:
        rows = session.execute(select(Post.queue_slot, PostSchedule.run_at)
                               .join(PostSchedule, PostSchedule.post_id == Post.id)
                               .order_by(Post.queue_slot)).all()
    assert dst_plan.in_berlin(r.queue_slot for r in rows) == dst_plan.EXPECTED
    assert dst_plan.in_berlin(r.run_at for r in rows) == dst_plan.EXPECTED
