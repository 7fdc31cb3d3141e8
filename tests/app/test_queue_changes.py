"""An account's queue: move, shuffle, pause and resume; the races they must win."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from herald import services
from herald.app import build_worker
from herald.models import Post, PostSchedule, SocialAccount, utcnow
from herald.planning import queueing, schedules
from herald.planning.schemas import ScheduleIn, SlotIn
from herald.schemas import PostCreate
from tests.helpers import add_account, add_posts, run_together

EVERY_DAY = [SlotIn(weekday=d, time=t) for d in ("mon", "tue", "wed", "thu", "fri", "sat",
                                                 "sun") for t in ("09:00", "13:00", "18:00")]


@pytest.fixture
def account(herald, company):
    account_id = add_account(herald, company[0])
    with herald.unit_of_work() as session:
        schedules.set_schedule(session, herald.context(company[0]), account_id,
                               ScheduleIn(timezone="Europe/Berlin", slots=EVERY_DAY))
    return account_id


def _queue(herald, company, account, n, caption="q"):
    ids = []
    for i in range(n):
        with herald.unit_of_work() as session:
            ids += [p.id for p in services.create_posts(
                session, herald.context(company[0]),
                PostCreate(account_id=account, caption=f"{caption}{i}", run_at="next_slot"))]
    return ids


def _queue_api(client, auth, account):
    return client.get(f"/api/v1/accounts/{account}/queue", headers=auth).json()


def _captions(queue):
    return [i["posts"][0]["caption"] for i in queue["items"]]


def _statuses(herald, account):
    with herald.db.session() as s:
        return dict(s.execute(select(PostSchedule.post_id, PostSchedule.status)
                              .join(Post, Post.id == PostSchedule.post_id)
                              .where(Post.account_id == account)).all())


def test_move_up_and_down_swaps_times(client, auth, herald, company, account):
    ids = _queue(herald, company, account, 3)
    before = _queue_api(client, auth, account)
    slots = [i["slot"] for i in before["items"]]
    url = f"/api/v1/accounts/{account}/queue/{ids[2]}/move"
    after = client.post(url, headers=auth, json={"direction": "up"}).json()
    assert _captions(after) == ["q0", "q2", "q1"]
    assert [i["slot"] for i in after["items"]] == slots
    down = client.post(f"/api/v1/accounts/{account}/queue/{ids[0]}/move", headers=auth,
                       json={"direction": "down"}).json()
    assert _captions(down) == ["q2", "q0", "q1"]
    with herald.db.session() as s:  # the queue rows moved with the posts
        runs = dict(s.execute(select(PostSchedule.post_id, PostSchedule.run_at)).all())
    assert runs[ids[2]] == datetime.fromisoformat(slots[0])
    # the first cannot move up: nothing changes
    same = client.post(f"/api/v1/accounts/{account}/queue/{ids[2]}/move", headers=auth,
                       json={"direction": "up"}).json()
    assert _captions(same) == ["q2", "q0", "q1"]


def test_move_to_an_empty_slot_and_bad_moves(client, auth, herald, company, account):
    [first] = _queue(herald, company, account, 1)
    queue = _queue_api(client, auth, account)
    target = queue["empty_slots"][3]
    url = f"/api/v1/accounts/{account}/queue/{first}/move"
    moved = client.post(url, headers=auth, json={"slot": target}).json()
    assert [i["slot"] for i in moved["items"]] == [target]
    for body, status, words in [
        ({"direction": "sideways"}, 422, "direction: must be 'up' or 'down'"),
        ({}, 422, "give either"),
        ({"slot": "2030-01-01T09:17:00+01:00"}, 422, "is not a slot of the account's"),
        ({"slot": "2020-01-01T09:00:00+01:00"}, 422, "in the past"),
        ({"slot": target}, 409, "That slot is taken"),
    ]:
        response = client.post(url, headers=auth, json=body)
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["error"]["message"]
    # a post with a time of its own dragged to an empty slot joins the queue
    [own] = add_posts(herald, company[0], account, run_at=utcnow() + timedelta(days=40))
    slot = _queue_api(client, auth, account)["empty_slots"][0]
    joined = client.post(f"/api/v1/accounts/{account}/queue/{own}/move", headers=auth,
                         json={"slot": slot}).json()
    assert slot in [i["slot"] for i in joined["items"]]


def test_shuffle_deals_the_same_times_again(herald, company, account):
    ids = _queue(herald, company, account, 6)
    ctx = herald.context(company[0])
    with herald.db.session() as session:
        before = [(e.slot, e.posts[0].id) for e in queueing.entries(session, account,
                                                                   after=utcnow())]
    with herald.unit_of_work() as session:
        queueing.shuffle(session, ctx, account, rng=random.Random(4))
    with herald.db.session() as session:
        after = [(e.slot, e.posts[0].id) for e in queueing.entries(session, account,
                                                                  after=utcnow())]
    assert [s for s, _ in after] == [s for s, _ in before]
    assert sorted(i for _, i in after) == sorted(ids) and after != before


def test_pause_holds_and_resume_releases(client, auth, herald, company, account):
    ids = _queue(herald, company, account, 2)
    [timed] = add_posts(herald, company[0], account, run_at=utcnow() + timedelta(hours=3))
    paused = client.post(f"/api/v1/accounts/{account}/queue/pause", headers=auth).json()
    assert paused["paused"] is True
    assert {i["queue_status"] for i in paused["items"]} == {"held"}
    assert set(_statuses(herald, account).values()) == {"held"}
    # a post added while paused is held too, and still gets its slot
    later = _queue(herald, company, account, 1, "late")
    assert _statuses(herald, account)[later[0]] == "held"
    account_out = client.get(f"/api/v1/accounts/{account}", headers=auth).json()
    assert account_out["queue_paused_at"] is not None
    post = client.get(f"/api/v1/posts/{ids[0]}", headers=auth).json()
    assert post["status"] == "pending"  # the post's status is contract: still pending
    # a held post can still be cancelled, which frees its slot
    assert client.delete(f"/api/v1/posts/{ids[1]}", headers=auth).json()["status"] == (
        "cancelled")
    resumed = client.post(f"/api/v1/accounts/{account}/queue/resume", headers=auth).json()
    assert resumed["paused"] is False
    statuses = _statuses(herald, account)
    assert statuses[ids[0]] == statuses[timed] == statuses[later[0]] == "pending"


def test_resume_gives_queued_posts_whose_slot_passed_the_next_free_slots(herald, company,
                                                                         account):
    [queued] = _queue(herald, company, account, 1)
    ctx = herald.context(company[0])
    with herald.unit_of_work() as session:
        queueing.pause(session, ctx, account)
    # the slot passes while the queue is paused
    with herald.db.session() as session:
        slot = session.get(Post, queued).queue_slot
    ctx.now = lambda: slot + timedelta(minutes=1)
    with herald.unit_of_work() as session:
        out = queueing.resume(session, ctx, account)
    assert [i.posts[0].id for i in out.items] == [queued]
    assert out.items[0].slot > slot and out.items[0].queue_status == "pending"


async def test_a_post_queued_as_pending_after_a_pause_is_held_by_the_worker(herald, company,
                                                                           account):
    # A plain create does not lock the account; one that raced a pause queues a pending
    # post. The worker that claims it sees the pause and hands it back as held.
    [pid] = add_posts(herald, company[0], account)
    with herald.db.session() as s:
        s.execute(update(SocialAccount).where(SocialAccount.id == account)
                  .values(queue_paused_at=utcnow()))
    worker = build_worker(herald, worker_id="w1")
    await asyncio.wait_for(worker.run(until_idle=True), 30)
    assert herald.registry.get("facebook").calls == []
    assert _statuses(herald, account)[pid] == "held"
    with herald.db.session() as s:
        row = s.get(PostSchedule, pid)
        assert row.attempts == 0 and s.get(Post, pid).status == "pending"


@pytest.mark.all_engines
def test_racing_adds_to_queue_take_different_slots(herald, company, account):
    run_together(6, lambda n: _queue(herald, company, account, 3, f"t{n}-"))
    with herald.db.session() as s:
        slots = [p.queue_slot for p in s.scalars(select(Post).where(
            Post.account_id == account))]
    assert len(slots) == 18 and len(set(slots)) == 18


@pytest.mark.all_engines
def test_a_pause_racing_adds_to_queue_leaves_none_of_them_pending(herald, company, account):
    ctx = herald.context(company[0])

    def act(n):
        if n == 3:
            with herald.unit_of_work() as session:
                queueing.pause(session, ctx, account)
        else:
            _queue(herald, company, account, 4, f"r{n}-")

    run_together(6, act)
    statuses = _statuses(herald, account)
    assert len(statuses) == 20 and set(statuses.values()) == {"held"}
