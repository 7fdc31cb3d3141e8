"""Weekly posting slots in an IANA time zone, turned into UTC times (pure, no I/O).

Wall-clock times are kept across daylight-saving changes: 09:00 is 09:00 local on either
side. A slot that does not exist that day (the clocks jump over it) moves forward by the
jump (02:30 becomes 03:30); one that happens twice (the clocks go back) is used once, at
its first occurrence. The arithmetic is zoneinfo's; nothing here adds hours by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from herald.errors import Invalid

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
#: The most slots a week may have (one every 10 minutes, around the clock).
MAX_SLOTS = 7 * 24 * 6
#: How far ahead a free slot is looked for before giving up.
HORIZON_DAYS = 5 * 366


@dataclass(frozen=True, order=True)
class Slot:
    """One weekly slot: a weekday (0 = Monday) and a wall-clock time, maybe a category."""

    weekday: int
    at: time
    category: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"weekday": WEEKDAYS[self.weekday], "time": self.at.strftime("%H:%M"),
                "category": self.category}


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a 422 that says what to write."""
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {name!r}; use an IANA name such as "
                      "'Europe/Berlin' or 'America/New_York'") from None


def parse_slot(weekday: str, at: str, category: str | None = None) -> Slot:
    """A slot from its API form ("mon", "09:00"), or a 422 naming the fault."""
    day = weekday.strip().lower()[:3]
    if day not in WEEKDAYS or weekday.strip().lower() not in (day, _long(day)):
        raise Invalid(f"weekday {weekday!r} is not a day of the week; use "
                      + ", ".join(WEEKDAYS))
    found = _TIME.match(at.strip())
    hour, minute = (int(found.group(1)), int(found.group(2))) if found else (99, 99)
    if hour > 23 or minute > 59:
        raise Invalid(f"slot time {at!r} is not a time of day; write HH:MM from 00:00 to "
                      "23:59, e.g. '09:00' or '17:30'")
    return Slot(WEEKDAYS.index(day), time(hour, minute), category or None)


def _long(day: str) -> str:
    return {"mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday",
            "fri": "friday", "sat": "saturday", "sun": "sunday"}[day]


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `tz`: a skipped time moves forward
    by the jump, a repeated one is its first occurrence (fold=0)."""
    wall = datetime.combine(day, at, tzinfo=tz)  # fold=0: the earlier of two
    # A time in a gap has no instant; zoneinfo reads it with the offset before the jump,
    # and the round trip through UTC lands after the jump: "moved forward".
    return wall.astimezone(UTC)


def slot_times(slots: Iterable[Slot], tz: ZoneInfo, *, after: datetime,
               days: int = HORIZON_DAYS) -> Iterator[tuple[datetime, Slot]]:
    """Every slot's UTC time later than `after`, in order, for `days` days."""
    weekly: dict[int, list[Slot]] = {}
    for slot in sorted(slots):
        weekly.setdefault(slot.weekday, []).append(slot)
    if not weekly:
        return
    first = after.astimezone(tz).date() - timedelta(days=1)
    for offset in range(days + 2):
        day = first + timedelta(days=offset)
        seen: set[datetime] = set()
        for slot in weekly.get(day.weekday(), []):
            when = local_to_utc(day, slot.at, tz)
            # Two slots a gap folds together (02:30 and 03:30 on the spring day) are one.
            if when > after and when not in seen:
                seen.add(when)
                yield when, slot


def free_slots(slots: Iterable[Slot], tz: ZoneInfo, *, after: datetime,
               taken: Iterable[datetime], count: int = 1,
               category: str | None = None) -> list[datetime]:
    """The first `count` slot times after `after` that no post holds."""
    held = {t.astimezone(UTC) for t in taken}
    found: list[datetime] = []
    for when, slot in slot_times(slots, tz, after=after):
        if when in held or (category is not None and slot.category != category):
            continue
        found.append(when)
        if len(found) == count:
            break
    return found
