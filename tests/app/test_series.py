"""Recurring posts: a series' occurrences as ordinary posts, edited, stopped, planned."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from herald import services
from herald.models import Post, PostSchedule, PostSeries, utcnow
from herald.planning import series as series_service
from herald.planning.loop import Planner
from herald.schemas import PostCreate, RecurrenceIn
from tests.helpers import add_account, run_together

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def account(herald, company):
    return add_account(herald, company[0])


def _start(days=1, hour=9):
    day = (utcnow() + timedelta(days=days)).astimezone(BERLIN).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN)


def _create(client, auth, account, rule="FREQ=WEEKLY", **recurrence):
    recurrence = {"rule": rule, "timezone": "Europe/Berlin", **recurrence}
    if "until" not in recurrence and "count" not in recurrence and "UNTIL" not in rule and (
            "COUNT" not in rule):
        recurrence["count"] = 10
    return client.post("/api/v1/posts", headers=auth, json={
        "account_id": account, "caption": "weekly", "run_at": _start().isoformat(),
        "recurrence": recurrence})


def _count(herald, model=Post) -> int:
    with herald.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def _planner(herald, **overrides):
    values = dict(window=timedelta(days=35), lead=timedelta(hours=1), gap=timedelta(days=30))
    values.update(overrides)
    return Planner(herald.db, herald.context, **values)


def test_a_weekly_series_makes_its_occurrences_in_the_window(client, auth, herald, account):
    response = _create(client, auth, account, "FREQ=WEEKLY;BYDAY=" +
                       "MO,TU,WE,TH,FR,SA,SU"[(_start().weekday()) * 3:][:2])
    assert response.status_code == 201, response.text
    created = response.json()
    items = created["items"]
    assert created["series_id"] and 5 <= len(items) <= 6  # 35 days ahead
    assert {i["origin"] for i in items} == {"series"}
    assert {i["series_id"] for i in items} == {created["series_id"]}
    assert len({i["group_id"] for i in items}) == len(items)  # each its own post
    local = [datetime.fromisoformat(i["run_at"]).astimezone(BERLIN) for i in items]
    assert {t.strftime("%H:%M") for t in local} == {"09:00"}
    assert all((b - a).days == 7 for a, b in itertools.pairwise(local))
    assert _count(herald, PostSchedule) == len(items)
    got = client.get(f"/api/v1/series/{created['series_id']}", headers=auth).json()
    assert got["kind"] == "recurring" and got["recurrence"]["count"] == 10
    assert [o["id"] for o in got["occurrences"]] == [i["id"] for i in items]
    assert len(got["next_times"]) == 10 - len(items)
    listed = client.get("/api/v1/series", headers=auth).json()["items"]
    assert [s["id"] for s in listed] == [created["series_id"]]


def test_occurrences_keep_their_wall_clock_time_across_daylight_saving(herald, company,
                                                                      account):
    ctx = herald.context(company[0])
    ctx.now = lambda: datetime(2027, 3, 10, tzinfo=UTC)
    with herald.unit_of_work() as session:
        posts = services.create_posts(session, ctx, PostCreate(
            account_id=account, caption="mondays", run_at=datetime(2027, 3, 15, 9,
                                                                   tzinfo=BERLIN),
            recurrence=RecurrenceIn(rule="FREQ=WEEKLY;BYDAY=MO", timezone="Europe/Berlin",
                                    until=datetime(2027, 4, 30, tzinfo=UTC))))
    local = [p.scheduled_at.astimezone(BERLIN) for p in posts]
    assert [t.strftime("%m-%d %H:%M %z") for t in local] == [
        "03-15 09:00 +0100", "03-22 09:00 +0100", "03-29 09:00 +0200", "04-05 09:00 +0200",
        "04-12 09:00 +0200"]


@pytest.mark.parametrize(("recurrence", "run_at", "message"), [
    ({"rule": "FREQ=FORTNIGHTLY", "count": 3}, None, "does not parse"),
    ({"rule": "FREQ=WEEKLY"}, None, "never ends; give until or count"),
    ({"rule": "FREQ=MINUTELY", "count": 5}, None, "fires every minute"),
    ({"rule": "FREQ=HOURLY;BYMINUTE=0,30", "count": 5}, None, "more often than hourly"),
    ({"rule": "FREQ=DAILY", "count": 3, "until": "2027-01-01T00:00:00Z"}, None,
     "until or count, not both"),
    ({"rule": "FREQ=DAILY;COUNT=3", "timezone": "Mars/Olympus"}, None,
     "unknown time zone 'Mars/Olympus'"),
    ({"rule": "FREQ=DAILY;COUNT=3"}, "2020-01-06T09:00:00+01:00", "first occurrence"),
    ({"rule": "FREQ=DAILY;COUNT=3"}, "now", "needs run_at"),
])
def test_bad_recurrences_are_refused_and_nothing_is_stored(client, auth, herald, account,
                                                           recurrence, run_at, message):
    body = {"account_id": account, "caption": "x",
            "run_at": run_at or _start().isoformat(),
            "recurrence": {"timezone": "Europe/Berlin", **recurrence}}
    response = client.post("/api/v1/posts", headers=auth, json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]
    assert _count(herald) == 0 and _count(herald, PostSeries) == 0


def test_editing_the_series_edits_future_occurrences_but_not_detached_ones(client, auth,
                                                                          herald, account):
    created = _create(client, auth, account, "FREQ=DAILY", count=4).json()
    first, second = created["items"][:2]
    # one occurrence edited on its own leaves the series' edits
    edited = client.patch(f"/api/v1/posts/{first['id']}", headers=auth,
                          json={"caption": "my own"}).json()
    assert edited["detached"] is True and edited["series_id"] == created["series_id"]
    response = client.patch(f"/api/v1/series/{created['series_id']}", headers=auth,
                            json={"caption": "new words"})
    assert response.status_code == 200, response.text
    captions = {o["id"]: o["caption"] for o in response.json()["occurrences"]}
    assert captions[first["id"]] == "my own" and captions[second["id"]] == "new words"


def test_a_new_rule_makes_the_occurrences_again(client, auth, herald, account):
    created = _create(client, auth, account, "FREQ=DAILY", count=4).json()
    response = client.patch(f"/api/v1/series/{created['series_id']}", headers=auth, json={
        "recurrence": {"rule": "FREQ=WEEKLY", "timezone": "Europe/Berlin", "count": 2}})
    assert response.status_code == 200, response.text
    runs = [datetime.fromisoformat(o["run_at"]) for o in response.json()["occurrences"]]
    assert len(runs) == 2 and runs[1] - runs[0] == timedelta(days=7)
    assert _count(herald) == 2 and _count(herald, PostSchedule) == 2


def test_stopping_cancels_what_is_still_to_come(client, auth, herald, account):
    created = _create(client, auth, account, "FREQ=DAILY", count=50).json()
    response = client.delete(f"/api/v1/series/{created['series_id']}", headers=auth)
    assert response.status_code == 200 and response.json()["stopped_at"]
    with herald.db.session() as s:
        assert {p.status for p in s.scalars(select(Post))} == {"cancelled"}
        assert {r.status for r in s.scalars(select(PostSchedule))} == {"cancelled"}
    assert _planner(herald, window=timedelta(days=200)).run_once().occurrences == 0
    assert client.get("/api/v1/series/nope", headers=auth).status_code == 404


def test_evergreen_goes_through_series_not_posts(client, auth, account):
    body = {"account_id": account, "caption": "tip", "evergreen": {"categories": ["tips"]}}
    refused = client.post("/api/v1/posts", headers=auth, json=body)
    assert refused.status_code == 422 and "/api/v1/series" in refused.text
    made = client.post("/api/v1/series", headers=auth, json=body)
    assert made.status_code == 201, made.text
    assert made.json()["kind"] == "evergreen" and made.json()["categories"] == ["tips"]
    neither = client.post("/api/v1/series", headers=auth, json={
        "account_id": account, "caption": "x", "run_at": "now"})
    assert neither.status_code == 422


def test_the_planner_moves_the_window_on_and_makes_each_occurrence_once(herald, company,
                                                                       account):
    ctx = herald.context(company[0])
    with herald.unit_of_work() as session:
        posts = services.create_posts(session, ctx, PostCreate(
            account_id=account, caption="d", run_at=_start(),
            recurrence=RecurrenceIn(rule="FREQ=DAILY", timezone="Europe/Berlin",
                                    count=60)))
    assert 34 <= len(posts) <= 36
    planner = _planner(herald)
    assert planner.run_once().occurrences == 0  # nothing new: the window did not move
    later = planner.run_once(utcnow() + timedelta(days=10))
    assert later.occurrences in (9, 10, 11)
    assert planner.run_once(utcnow() + timedelta(days=10)).occurrences == 0
    with herald.db.session() as s:
        times = [p.occurrence_at for p in s.scalars(select(Post))]
    assert len(times) == len(set(times))


@pytest.mark.all_engines
def test_two_planners_racing_never_make_an_occurrence_twice(herald, company, account):
    ctx = herald.context(company[0])
    with herald.unit_of_work() as session:
        made, _ = series_service.create_series(session, ctx, PostCreate(
            account_id=account, caption="h", run_at=_start(),
            recurrence=RecurrenceIn(rule="FREQ=HOURLY", timezone="Europe/Berlin",
                                    count=400)), window_days=1)
    run_together(4, lambda _: _planner(herald, window=timedelta(days=20)).run_once())
    with herald.db.session() as s:
        times = [p.occurrence_at for p in s.scalars(select(Post).where(
            Post.series_id == made.id))]
        assert len(times) == len(set(times)) and len(times) == 400
        assert s.scalar(select(func.count()).select_from(PostSchedule)) == 400


def test_an_occurrence_of_an_account_whose_queue_is_paused_is_held(herald, company, account):
    from herald.models import SocialAccount

    with herald.db.session() as s:
        s.execute(update(SocialAccount).values(queue_paused_at=utcnow()))
    with herald.unit_of_work() as session:
        services.create_posts(session, herald.context(company[0]), PostCreate(
            account_id=account, caption="d", run_at=_start(),
            recurrence=RecurrenceIn(rule="FREQ=DAILY", timezone="Europe/Berlin", count=3)))
    with herald.db.session() as s:
        assert {r.status for r in s.scalars(select(PostSchedule))} == {"held"}


async def test_workers_publish_an_occurrence_once_while_planning_runs(herald, company,
                                                                     account):
    import asyncio

    from herald.app import build_worker

    first = utcnow() + timedelta(seconds=1.5)
    with herald.unit_of_work() as session:
        [occurrence, _] = services.create_posts(session, herald.context(company[0]),
                                                PostCreate(
            account_id=account, caption="hourly", run_at=first,
            recurrence=RecurrenceIn(rule="FREQ=HOURLY", timezone="UTC", count=2)))
    workers = [build_worker(herald, worker_id=f"w{n}", planning_interval=0.05)
               for n in range(2)]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        for _ in range(200):
            with herald.db.session() as s:
                if s.get(Post, occurrence.id).status == "published":
                    break
            await asyncio.sleep(0.05)
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks)
    calls = herald.registry.get("facebook").published_ids()
    assert calls == [occurrence.id]
    assert _count(herald) == 2


def test_a_large_series_is_made_in_batches_the_request_first_then_the_planner(
        herald, company, monkeypatch):
    from herald.planning import loop

    monkeypatch.setattr(series_service, "BATCH_ROWS", 10)
    monkeypatch.setattr(loop, "BATCH_ROWS", 10)
    accounts = [add_account(herald, company[0], external_id=f"page-{n}") for n in range(3)]
    ctx = herald.context(company[0])
    with herald.unit_of_work() as session:
        made, posts = series_service.create_series(session, ctx, PostCreate(
            account_ids=accounts, caption="d", run_at=_start(),
            recurrence=RecurrenceIn(rule="FREQ=DAILY", timezone="Europe/Berlin",
                                    count=30)), window_days=35)
        first_batch = sorted({p.occurrence_at for p in posts})
        expanded_until = made.expanded_until
    # Three occurrences of three accounts: the most that fit in 10 rows.
    assert len(posts) == 9 and len(first_batch) == 3
    assert expanded_until == first_batch[-1]
    planned = _planner(herald).run_once()
    assert planned.occurrences == 81  # the other 27 days, in batches of nine
    with herald.db.session() as s:
        rows = s.execute(select(Post.occurrence_at, Post.account_id).where(
            Post.series_id == made.id)).all()
        assert s.get(PostSeries, made.id).expanded_until > first_batch[-1]
    assert len(rows) == len(set(rows)) == 90
    assert _planner(herald).run_once().occurrences == 0


def test_a_batch_larger_than_one_occurrence_still_makes_that_occurrence(herald, company,
                                                                        monkeypatch):
    monkeypatch.setattr(series_service, "BATCH_ROWS", 2)
    accounts = [add_account(herald, company[0], external_id=f"page-{n}") for n in range(3)]
    with herald.unit_of_work() as session:
        _, posts = series_service.create_series(session, herald.context(company[0]),
                                                PostCreate(
            account_ids=accounts, caption="d", run_at=_start(),
            recurrence=RecurrenceIn(rule="FREQ=DAILY", timezone="Europe/Berlin",
                                    count=5)), window_days=35)
    assert len(posts) == 3 and len({p.occurrence_at for p in posts}) == 1


@pytest.mark.all_engines
def test_a_series_batch_holding_its_accounts_does_not_hold_up_a_create_for_them(
        herald, company, account):
    """lock_accounts on PostgreSQL is FOR NO KEY UPDATE: a post's foreign key check (KEY
    SHARE) passes it, another lock_accounts still waits."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from herald.planning.schedules import lock_accounts

    if herald.db.engine.dialect.name != "postgresql":
        pytest.skip("MariaDB has no weaker row lock than FOR UPDATE; SQLite locks the file")
    ctx = herald.context(company[0])
    with herald.db.engine.connect() as holder, holder.begin():
        lock_accounts(holder, [account])
        with herald.unit_of_work() as session:
            # Were the insert to wait for the holder, this fails instead of hanging.
            session.execute(text("SET LOCAL lock_timeout = '5s'"))
            [post] = services.create_posts(session, ctx, PostCreate(
                account_id=account, caption="meanwhile", run_at=_start()))
        with herald.db.engine.connect() as other, other.begin():
            other.execute(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                lock_accounts(other, [account])
    with herald.db.session() as s:
        assert s.get(Post, post.id) is not None
