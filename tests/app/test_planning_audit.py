"""Planning's steps in the audit log: schedules, queue moves, pauses, series, refills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from herald.planning.loop import Planner
from tests.helpers import add_account

LATER = "2030-01-07T09:00:00Z"


def _actions(client, auth, **filters):
    answer = client.get("/api/v1/audit", headers=auth, params=filters)
    assert answer.status_code == 200, answer.text
    return [e for e in reversed(answer.json()["items"])]


def test_schedule_queue_and_series_steps_are_logged(client, auth, herald, company):
    account = add_account(herald, company[0])
    base = f"/api/v1/accounts/{account}"
    client.put(f"{base}/schedule", headers=auth, json={
        "timezone": "Europe/Berlin", "slots": [{"weekday": "mon", "time": "09:00"},
                                               {"weekday": "tue", "time": "09:00"}]})
    ids = [client.post("/api/v1/posts", headers=auth, json={
        "account_id": account, "caption": f"q{n}", "run_at": "next_slot"}).json()[
        "items"][0]["id"] for n in range(2)]
    client.post(f"{base}/queue/{ids[1]}/move", headers=auth, json={"direction": "up"})
    client.post(f"{base}/queue/shuffle", headers=auth)
    client.post(f"{base}/queue/pause", headers=auth)
    client.post(f"{base}/queue/resume", headers=auth)
    series = client.post("/api/v1/series", headers=auth, json={
        "account_id": account, "caption": "weekly", "run_at": LATER,
        "recurrence": {"rule": "FREQ=WEEKLY", "timezone": "UTC", "count": 2}}).json()
    client.patch(f"/api/v1/series/{series['id']}", headers=auth, json={"caption": "new"})
    client.delete(f"/api/v1/series/{series['id']}", headers=auth)
    entries = _actions(client, auth, account_id=account)
    actions = [e["action"] for e in entries]
    assert actions == [
        "account.connected", "schedule.set", "post.created", "post.created", "queue.moved",
        "queue.moved", "queue.shuffled", "queue.paused", "queue.resumed", "series.created",
        "post.created", "series.edited", "series.stopped"], actions
    schedule = entries[1]
    assert schedule["before"] is None and schedule["after"]["timezone"] == "Europe/Berlin"
    moved = entries[4]
    assert moved["post_id"] == ids[1] and moved["after"]["scheduled_at"] < moved["before"][
        "scheduled_at"]
    edited = entries[11]
    assert edited["before"] == {"caption": "weekly"}
    assert edited["after"] == {"series_id": series["id"], "caption": "new"}


def test_a_refill_is_logged_as_the_planners(client, auth, herald, company):
    account = add_account(herald, company[0])
    client.put(f"/api/v1/accounts/{account}/schedule", headers=auth, json={
        "timezone": "UTC", "slots": [{"weekday": "mon", "time": "09:00"}]})
    client.post("/api/v1/series", headers=auth, json={
        "account_id": account, "caption": "tip", "evergreen": {"categories": []}})
    monday = datetime(2027, 1, 4, 8, 30, tzinfo=UTC)
    Planner(herald.db, lambda c: herald.context(c, actor="planner"),
            window=timedelta(days=35), lead=timedelta(hours=1),
            gap=timedelta(days=30)).run_once(monday)
    [refill] = [e for e in _actions(client, auth, actor="planner")]
    assert refill["action"] == "post.created" and refill["after"]["caption"] == "tip"


def test_a_contributors_queued_post_holds_its_slot_until_approved(client, auth, herald,
                                                                  company):
    from herald import services
    from herald.models import PostSchedule
    from herald.permissions import Role

    with herald.db.session() as session:
        token = services.create_api_token(session, company_id=company[0], name="c",
                                          role=Role.CONTRIBUTOR)
    contributor = {"Authorization": f"Bearer {token}"}
    account = add_account(herald, company[0])
    client.patch(f"/api/v1/accounts/{account}", headers=auth,
                 json={"requires_approval": True})
    client.put(f"/api/v1/accounts/{account}/schedule", headers=auth, json={
        "timezone": "UTC", "slots": [{"weekday": "mon", "time": "09:00"}]})
    made = client.post("/api/v1/posts", headers=contributor, json={
        "account_id": account, "caption": "please", "run_at": "next_slot"})
    assert made.status_code == 201, made.text
    post = made.json()["items"][0]
    assert post["status"] == "awaiting_approval" and post["queue_slot"]
    # its slot is taken: the owner's next post goes to the Monday after
    mine = client.post("/api/v1/posts", headers=auth, json={
        "account_id": account, "caption": "mine", "run_at": "next_slot"}).json()["items"][0]
    assert mine["queue_slot"] > post["queue_slot"]
    with herald.db.session() as s:
        assert s.get(PostSchedule, post["id"]) is None
    approved = client.post(f"/api/v1/posts/{post['id']}/approve", headers=auth)
    assert approved.status_code == 200, approved.text
    with herald.db.session() as s:
        row = s.get(PostSchedule, post["id"])
        assert row is not None and row.run_at == datetime.fromisoformat(post["queue_slot"])
