"""Evergreen refills: empty slots shortly ahead get library posts, least recently used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from herald import services
from herald.models import Post, PostSchedule
from herald.planning import queueing, schedules
from herald.planning.loop import Planner
from herald.planning.schemas import ScheduleIn, SlotIn
from herald.planning.series import create_series
from herald.schemas import EvergreenIn, PostCreate
from tests.helpers import add_account, run_together

#: A Monday, 06:00 UTC: Berlin's slots that day are 09:00, 12:00 and 15:00 (UTC+1).
MONDAY = datetime(2027, 1, 4, 6, tzinfo=UTC)


@pytest.fixture
def account(herald, company):
    account_id = add_account(herald, company[0])
    with herald.unit_of_work() as session:
        schedules.set_schedule(session, herald.context(company[0]), account_id, ScheduleIn(
            timezone="Europe/Berlin", slots=[
                SlotIn(weekday="mon", time="09:00"), SlotIn(weekday="mon", time="12:00"),
                SlotIn(weekday="mon", time="15:00", category="tips")]))
    return account_id


def _entry(herald, company, account, caption, categories=()):
    ctx = herald.context(company[0])
    # created in caption order: A, B, …
    ctx.now = lambda: MONDAY - timedelta(days=60) + timedelta(minutes=ord(caption[0]))
    with herald.unit_of_work() as session:
        made, _ = create_series(session, ctx, PostCreate(
            account_id=account, caption=caption,
            evergreen=EvergreenIn(categories=list(categories))), window_days=35)
        return made.id


def _planner(herald, gap_days=30.0, lead_hours=12):
    return Planner(herald.db, herald.context, window=timedelta(days=35),
                   lead=timedelta(hours=lead_hours), gap=timedelta(days=gap_days))


def _refills(herald):
    with herald.db.session() as s:
        return [(p.queue_slot.astimezone(UTC).strftime("%H:%M"), p.caption)
                for p in s.scalars(select(Post).where(Post.origin == "evergreen")
                                   .order_by(Post.queue_slot))]


def test_empty_slots_are_refilled_least_recently_used_first(herald, company, account):
    _entry(herald, company, account, "A")
    _entry(herald, company, account, "B", ["tips"])
    made = _planner(herald, gap_days=0).run_once(MONDAY)
    assert made.refills == 3
    # 09:00 A (never used, oldest), 12:00 B (never used), 15:00 "tips": B is the only tip
    assert _refills(herald) == [("08:00", "A"), ("11:00", "B"), ("14:00", "B")]
    with herald.db.session() as s:
        assert s.scalars(select(PostSchedule.status)).all() == ["pending"] * 3
    assert _planner(herald, gap_days=0).run_once(MONDAY).refills == 0  # all full


def test_an_entry_is_not_used_twice_on_an_account_within_the_gap(herald, company, account):
    _entry(herald, company, account, "A")
    _planner(herald, gap_days=30).run_once(MONDAY)
    assert _refills(herald) == [("08:00", "A")]  # 12:00 stays empty; 15:00 wants a tip
    _planner(herald, gap_days=30).run_once(MONDAY + timedelta(days=7))
    assert len(_refills(herald)) == 1
    _planner(herald, gap_days=30).run_once(MONDAY + timedelta(days=35))
    assert len(_refills(herald)) == 2


def test_only_slots_within_the_lead_and_still_empty_are_refilled(herald, company, account):
    _entry(herald, company, account, "A")
    _entry(herald, company, account, "B")
    ctx = herald.context(company[0])
    ctx.now = lambda: MONDAY
    with herald.unit_of_work() as session:  # 09:00 taken by "Add to queue"
        services.create_posts(session, ctx, PostCreate(account_id=account, caption="mine",
                                                       run_at="next_slot"))
    _planner(herald, gap_days=0, lead_hours=5).run_once(MONDAY)
    assert _refills(herald) == [("11:00", "A")]  # 14:00 is beyond the lead


def test_a_paused_queue_is_not_refilled_and_a_refill_can_be_cancelled(client, auth, herald,
                                                                     company, account):
    _entry(herald, company, account, "A")
    ctx = herald.context(company[0])
    with herald.unit_of_work() as session:
        queueing.pause(session, ctx, account)
    assert _planner(herald, gap_days=0).run_once(MONDAY).refills == 0
    with herald.unit_of_work() as session:
        queueing.resume(session, ctx, account)
    _planner(herald, gap_days=0).run_once(MONDAY)
    with herald.db.session() as s:
        refill = s.scalars(select(Post).where(Post.origin == "evergreen")).first()
    assert client.delete(f"/api/v1/posts/{refill.id}", headers=auth).status_code == 200


@pytest.mark.all_engines
def test_two_planners_racing_fill_each_slot_once(herald, company, account):
    for caption in "ABCD":
        _entry(herald, company, account, caption, ["tips"])
    run_together(3, lambda _: _planner(herald, gap_days=0).run_once(MONDAY))
    slots = [slot for slot, _ in _refills(herald)]
    assert slots == ["08:00", "11:00", "14:00"]
