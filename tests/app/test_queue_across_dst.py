"""Issue 15's "Done when", from the API and from the CLI: a schedule is set, twenty posts
are added to the queue and land in the right slots across a daylight-saving change
(tests/dst_plan.py has the schedule and the slots, written out by hand)."""

from __future__ import annotations

import dataclasses
import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from herald.app import create_app
from herald.cli import app
from herald.models import Post, PostSchedule
from tests import dst_plan
from tests.conftest import SECRET
from tests.helpers import add_account


def _stored(herald) -> tuple[list[str], list[str], list[str]]:
    """The posts' slots, their queue rows' times (both in slot order) and captions."""
    with herald.db.session() as session:
        rows = session.execute(
            select(Post.queue_slot, PostSchedule.run_at, Post.caption, Post.origin)
            .join(PostSchedule, PostSchedule.post_id == Post.id)
            .order_by(Post.queue_slot)).all()
    assert {r.origin for r in rows} == {"queue"}
    return (dst_plan.in_berlin(r.queue_slot for r in rows),
            dst_plan.in_berlin(r.run_at for r in rows), [r.caption for r in rows])


def test_from_the_api(herald, company, auth):
    account = add_account(herald, company[0])
    clocked = dataclasses.replace(herald, clock=dst_plan.clock)
    with TestClient(create_app(clocked)) as client:
        put = client.put(f"/api/v1/accounts/{account}/schedule", headers=auth, json={
            "timezone": dst_plan.ZONE, "slots": dst_plan.SLOTS})
        assert put.status_code == 200, put.text
        assert dst_plan.in_berlin(put.json()["upcoming"]) == dst_plan.EXPECTED[:10]
        answers = []
        for n in range(dst_plan.POSTS):
            made = client.post("/api/v1/posts", headers=auth, json={
                "account_id": account, "caption": f"Queued {n:02d}", "run_at": "next_slot"})
            assert made.status_code == 201, made.text
            [item] = made.json()["items"]
            assert item["origin"] == "queue" and item["queue_slot"] == item["run_at"]
            answers.append(item["run_at"])
        assert dst_plan.in_berlin(answers) == dst_plan.EXPECTED
        queue = client.get(f"/api/v1/accounts/{account}/queue", headers=auth)
        assert queue.status_code == 200, queue.text
        items = queue.json()["items"]
        assert dst_plan.in_berlin(i["slot"] for i in items) == dst_plan.EXPECTED
        assert [i["posts"][0]["caption"] for i in items] == [
            f"Queued {n:02d}" for n in range(dst_plan.POSTS)]
    slots, runs, _ = _stored(herald)
    assert slots == runs == dst_plan.EXPECTED


def test_from_the_cli(herald, company, database_url, tmp_path):
    account = add_account(herald, company[0])
    env = {"HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET}
    runner, at_now = CliRunner(), {"clock": dst_plan.clock}
    slots = [arg for line in dst_plan.SLOT_LINES for arg in ("--slot", line)]
    done = runner.invoke(app, ["schedule", "set", account, "--timezone", dst_plan.ZONE,
                               *slots, "--json"], env=env, obj=at_now)
    assert done.exit_code == 0, done.output
    assert dst_plan.in_berlin(json.loads(done.output)["upcoming"]) == dst_plan.EXPECTED[:10]
    path = tmp_path / "queue.csv"
    path.write_text("account,run_at,caption\n" + "".join(
        f"{account},queue,Queued {n:02d}\n" for n in range(dst_plan.POSTS)))
    imported = runner.invoke(app, ["posts", "import", str(path), "--json"], env=env,
                             obj=at_now)
    assert imported.exit_code == 0, imported.output
    slots_held, runs, captions = _stored(herald)
    assert slots_held == runs == dst_plan.EXPECTED
    assert captions == [f"Queued {n:02d}" for n in range(dst_plan.POSTS)]
