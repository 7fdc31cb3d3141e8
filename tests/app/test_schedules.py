"""Posting schedules, "Add to queue" (run_at next_slot) and the queue of an account."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from herald import services
from herald.models import Post, PostSchedule
from herald.schemas import PostCreate
from tests.helpers import add_account

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


@pytest.fixture
def account(herald, company):
    return add_account(herald, company[0])


def _put(client, auth, account, timezone="Europe/Berlin", slots=None):
    slots = slots if slots is not None else (
        [{"weekday": d, "time": "09:00"} for d in WEEKDAYS]
        + [{"weekday": d, "time": "17:30"} for d in WEEKDAYS]
        + [{"weekday": "sat", "time": "11:00"}])
    return client.put(f"/api/v1/accounts/{account}/schedule", headers=auth,
                      json={"timezone": timezone, "slots": slots})


def _queue_post(client, auth, account_ids, caption="queued"):
    body = {"caption": caption, "run_at": "next_slot"}
    body |= {"account_ids": account_ids} if isinstance(account_ids, list) else {
        "account_id": account_ids}
    return client.post("/api/v1/posts", headers=auth, json=body)


def _count(herald, model=Post) -> int:
    with herald.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_put_then_get_the_schedule(client, auth, account):
    empty = client.get(f"/api/v1/accounts/{account}/schedule", headers=auth).json()
    assert empty == {"account_id": account, "timezone": "UTC", "slots": [], "upcoming": []}
    response = _put(client, auth, account)
    assert response.status_code == 200, response.text
    got = client.get(f"/api/v1/accounts/{account}/schedule", headers=auth).json()
    assert got["timezone"] == "Europe/Berlin"
    assert {"weekday": "sat", "time": "11:00", "category": None} in got["slots"]
    assert len(got["slots"]) == 11 and len(got["upcoming"]) == 10
    local = [datetime.fromisoformat(t).astimezone(BERLIN).strftime("%H:%M")
             for t in got["upcoming"]]
    assert set(local) <= {"09:00", "17:30", "11:00"}


@pytest.mark.parametrize(("body", "message"), [
    ({"timezone": "Mars/Olympus", "slots": []}, "unknown time zone 'Mars/Olympus'"),
    ({"timezone": "Europe/Berlin", "slots": [{"weekday": "mon", "time": "25:00"}]},
     "slot time '25:00' is not a time of day"),
    ({"timezone": "Europe/Berlin", "slots": [{"weekday": "someday", "time": "09:00"}]},
     "weekday 'someday' is not a day of the week"),
    ({"timezone": "Europe/Berlin", "slots": [{"weekday": "mon", "time": "09:00",
                                              "colour": "red"}]}, "unknown field"),
])
def test_bad_schedules_are_refused_and_nothing_is_stored(client, auth, account, body, message):
    _put(client, auth, account, slots=[{"weekday": "sun", "time": "10:00"}])
    response = client.put(f"/api/v1/accounts/{account}/schedule", headers=auth, json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]
    kept = client.get(f"/api/v1/accounts/{account}/schedule", headers=auth).json()
    assert kept["slots"] == [{"weekday": "sun", "time": "10:00", "category": None}]


def test_schedule_of_another_company_is_a_404(client, auth, herald, account):
    with herald.db.session() as session:
        _, other = services.create_company(session, name="Other")
    headers = {"Authorization": f"Bearer {other}"}
    assert client.get(f"/api/v1/accounts/{account}/schedule",
                      headers=headers).status_code == 404
    assert _put(client, headers, account).status_code == 404


def test_next_slot_without_a_schedule_is_refused(client, auth, herald, account):
    response = _queue_post(client, auth, account)
    assert response.status_code == 422
    assert "has no posting schedule" in response.json()["error"]["message"]
    assert _count(herald) == 0 and _count(herald, PostSchedule) == 0


def test_add_to_queue_takes_the_next_free_slots_in_order(client, auth, herald, account):
    _put(client, auth, account)
    upcoming = client.get(f"/api/v1/accounts/{account}/schedule",
                          headers=auth).json()["upcoming"]
    runs = []
    for n in range(4):
        response = _queue_post(client, auth, account, f"post {n}")
        assert response.status_code == 201, response.text
        [item] = response.json()["items"]
        assert item["origin"] == "queue" and item["queue_slot"] == item["run_at"]
        runs.append(item["run_at"])
    assert [datetime.fromisoformat(r) for r in runs] == [
        datetime.fromisoformat(u) for u in upcoming[:4]]
    queue = client.get(f"/api/v1/accounts/{account}/queue", headers=auth).json()
    assert [i["posts"][0]["caption"] for i in queue["items"]] == [
        "post 0", "post 1", "post 2", "post 3"]
    assert queue["paused"] is False and queue["items"][0]["queue_status"] == "pending"
    assert [datetime.fromisoformat(s) for s in queue["empty_slots"][:2]] == [
        datetime.fromisoformat(u) for u in upcoming[4:6]]


def test_several_accounts_each_take_their_own_next_slot(client, auth, herald, company,
                                                        account):
    other = add_account(herald, company[0], "linkedin", "urn:li:person:x")
    _put(client, auth, account, slots=[{"weekday": "mon", "time": "09:00"}])
    _put(client, auth, other, timezone="America/New_York",
         slots=[{"weekday": "tue", "time": "08:15"}])
    _queue_post(client, auth, account)  # account's first Monday is taken
    items = _queue_post(client, auth, [account, other]).json()["items"]
    by_account = {i["account_id"]: datetime.fromisoformat(i["run_at"]) for i in items}
    assert len({i["group_id"] for i in items}) == 1
    mine = by_account[account].astimezone(BERLIN)
    theirs = by_account[other].astimezone(ZoneInfo("America/New_York"))
    assert mine.strftime("%a %H:%M") == "Mon 09:00" and theirs.strftime("%a %H:%M") == (
        "Tue 08:15")
    assert (mine - datetime.now(UTC)).days >= 7  # the second Monday from now


def test_cancelling_a_queued_post_frees_its_slot(client, auth, herald, account):
    _put(client, auth, account)
    first = _queue_post(client, auth, account).json()["items"][0]
    _queue_post(client, auth, account)
    assert client.delete(f"/api/v1/posts/{first['id']}", headers=auth).status_code == 200
    again = _queue_post(client, auth, account).json()["items"][0]
    assert again["run_at"] == first["run_at"]


def test_a_post_given_its_own_time_leaves_its_slot(client, auth, herald, account):
    _put(client, auth, account)
    first = _queue_post(client, auth, account).json()["items"][0]
    later = "2030-01-01T10:00:00+00:00"
    patched = client.patch(f"/api/v1/posts/{first['id']}", headers=auth,
                           json={"run_at": later}).json()
    assert patched["queue_slot"] is None and patched["origin"] is None
    assert _queue_post(client, auth, account).json()["items"][0]["run_at"] == first["run_at"]


def test_twenty_posts_land_in_their_slots_across_a_daylight_saving_change(herald, company,
                                                                         account):
    # Sunday 09:00 in Berlin: 20 weeks from 2027-01-03 cross 2027-03-28 (+01:00 → +02:00).
    ctx = herald.context(company[0])
    ctx.now = lambda: datetime(2027, 1, 1, 12, tzinfo=UTC)
    from herald.planning import schedules
    from herald.planning.schemas import ScheduleIn, SlotIn

    with herald.db.session() as session:
        schedules.set_schedule(session, ctx, account, ScheduleIn(
            timezone="Europe/Berlin", slots=[SlotIn(weekday="sun", time="09:00")]))
    runs = []
    for n in range(20):
        with herald.unit_of_work() as session:
            [post] = services.create_posts(session, ctx, PostCreate(
                account_id=account, caption=f"{n}", run_at="next_slot"))
            runs.append(post.scheduled_at)
    local = [r.astimezone(BERLIN) for r in runs]
    assert {t.strftime("%a %H:%M") for t in local} == {"Sun 09:00"}
    assert len(set(local)) == 20
    offsets = [t.strftime("%z") for t in local]
    assert offsets[:12] == ["+0100"] * 12 and offsets[12:] == ["+0200"] * 8
    with herald.db.session() as session:
        queued = session.execute(select(PostSchedule.run_at).order_by(PostSchedule.run_at))
        assert [r for (r,) in queued] == runs


def test_draft_with_next_slot_is_refused(client, auth, account):
    response = client.post("/api/v1/posts", headers=auth, json={
        "account_id": account, "run_at": "next_slot", "draft": True})
    assert response.status_code == 422
    assert "a draft holds no queue slot" in response.json()["error"]["message"]


def test_deleting_an_account_deletes_its_schedule_and_queue(client, auth, herald, account):
    from herald.models import AccountSchedule

    _put(client, auth, account)
    _queue_post(client, auth, account)
    assert client.delete(f"/api/v1/accounts/{account}", headers=auth).status_code == 204
    assert _count(herald) == 0 and _count(herald, AccountSchedule) == 0


def test_a_draft_can_be_scheduled_into_the_next_slot(client, auth, herald, account):
    _put(client, auth, account)
    upcoming = client.get(f"/api/v1/accounts/{account}/schedule",
                          headers=auth).json()["upcoming"]
    draft = client.post("/api/v1/posts", headers=auth, json={
        "account_id": account, "caption": "later", "draft": True}).json()["items"][0]
    scheduled = client.post(f"/api/v1/posts/{draft['id']}/schedule", headers=auth,
                            json={"run_at": "next_slot"})
    assert scheduled.status_code == 200, scheduled.text
    out = scheduled.json()
    assert out["status"] == "pending" and out["origin"] == "queue"
    assert datetime.fromisoformat(out["queue_slot"]) == datetime.fromisoformat(upcoming[0])
    assert _count(herald, PostSchedule) == 1
