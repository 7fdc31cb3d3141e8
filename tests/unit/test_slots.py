"""Weekly slots into UTC times across daylight-saving changes, with real IANA zones."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from herald.errors import Invalid
from herald.planning.slots import Slot, free_slots, parse_slot, slot_times, zone

BERLIN = zone("Europe/Berlin")
NEW_YORK = zone("America/New_York")


def _local(when: datetime, tz=BERLIN) -> str:
    return when.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %z")


def _take(it, n):
    out = []
    for item in it:
        out.append(item)
        if len(out) == n:
            return out
    return out


def _first(slots, tz, after, n):
    return [when for when, _ in _take(slot_times(slots, tz, after=after), n)]


def test_wall_clock_time_is_kept_across_the_spring_change():
    # Berlin moves from +01:00 to +02:00 on Sunday 2027-03-28.
    slots = [parse_slot("mon", "09:00"), parse_slot("sat", "11:00")]
    times = _first(slots, BERLIN, datetime(2027, 3, 20, tzinfo=UTC), 4)
    assert [_local(t) for t in times] == [
        "Sat 2027-03-20 11:00 +0100", "Mon 2027-03-22 09:00 +0100",
        "Sat 2027-03-27 11:00 +0100", "Mon 2027-03-29 09:00 +0200"]
    assert times[3] == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)


def test_wall_clock_time_is_kept_across_the_autumn_change_in_new_york():
    # New York goes back from -04:00 to -05:00 on Sunday 2027-11-07.
    slots = [parse_slot("sun", "17:30")]
    times = _first(slots, NEW_YORK, datetime(2027, 10, 30, tzinfo=UTC), 2)
    assert [_local(t, NEW_YORK) for t in times] == ["Sun 2027-10-31 17:30 -0400",
                                                     "Sun 2027-11-07 17:30 -0500"]


def test_a_slot_that_does_not_exist_that_day_moves_forward():
    # 02:30 does not happen in Berlin on 2027-03-28: the clocks jump from 02:00 to 03:00.
    [(when, _)] = _take(slot_times([parse_slot("sun", "02:30")], BERLIN,
                                   after=datetime(2027, 3, 27, tzinfo=UTC)), 1)
    assert _local(when) == "Sun 2027-03-28 03:30 +0200"
    # the week after, 02:30 exists again
    [_, (later, _)] = _take(slot_times([parse_slot("sun", "02:30")], BERLIN,
                                       after=datetime(2027, 3, 27, tzinfo=UTC)), 2)
    assert _local(later) == "Sun 2027-04-04 02:30 +0200"


def test_two_slots_a_gap_folds_together_are_one():
    slots = [parse_slot("sun", "02:30"), parse_slot("sun", "03:30")]
    day = [w for w, _ in _take(slot_times(slots, BERLIN,
                                          after=datetime(2027, 3, 27, tzinfo=UTC)), 3)]
    assert [_local(w) for w in day] == ["Sun 2027-03-28 03:30 +0200",
                                        "Sun 2027-04-04 02:30 +0200",
                                        "Sun 2027-04-04 03:30 +0200"]


def test_a_slot_that_happens_twice_is_used_once():
    # 02:30 happens twice in Berlin on 2027-10-31 (03:00 CEST goes back to 02:00 CET).
    slots = [parse_slot("sun", "02:30")]
    times = _first(slots, BERLIN, datetime(2027, 10, 30, tzinfo=UTC), 2)
    assert [_local(t) for t in times] == ["Sun 2027-10-31 02:30 +0200",
                                          "Sun 2027-11-07 02:30 +0100"]


def test_free_slots_skip_taken_ones_and_can_ask_for_a_category():
    slots = [parse_slot("mon", "09:00"), parse_slot("mon", "12:00", "tips")]
    after = datetime(2027, 1, 1, tzinfo=UTC)
    first = free_slots(slots, BERLIN, after=after, taken=[])
    assert _local(first[0]) == "Mon 2027-01-04 09:00 +0100"
    second = free_slots(slots, BERLIN, after=after, taken=first, count=2)
    assert [_local(t) for t in second] == ["Mon 2027-01-04 12:00 +0100",
                                           "Mon 2027-01-11 09:00 +0100"]
    tips = free_slots(slots, BERLIN, after=after, taken=[], category="tips")
    assert _local(tips[0]) == "Mon 2027-01-04 12:00 +0100"
    assert free_slots([], BERLIN, after=after, taken=[]) == []


@pytest.mark.parametrize(("weekday", "at", "message"), [
    ("mon", "25:00", "slot time '25:00' is not a time of day"),
    ("mon", "9", "slot time '9' is not a time of day"),
    ("mon", "09:60", "slot time '09:60' is not a time of day"),
    ("funday", "09:00", "weekday 'funday' is not a day of the week"),
])
def test_bad_slots_say_what_is_wrong(weekday, at, message):
    with pytest.raises(Invalid, match=message):
        parse_slot(weekday, at)


def test_long_weekday_names_and_unknown_zones():
    assert parse_slot("Tuesday", "7:05") == Slot(1, time(7, 5))
    with pytest.raises(Invalid, match="unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")
    with pytest.raises(Invalid, match="unknown time zone"):
        zone("../etc/passwd")
