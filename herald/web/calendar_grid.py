"""Month and week grids in the user's time zone, with the posts of each day (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from herald.web.localtime import day_bounds
from herald.web.queries import Chip

View = Literal["month", "week"]
#: Chips drawn per day before "+N more": a month cell is small, a week column is not.
PER_DAY = {"month": 4, "week": 40}
EN_DASH = "\u2013"


@dataclass
class Day:
    date: date
    in_period: bool
    is_today: bool
    chips: list[tuple[Chip, datetime]] = field(default_factory=list)  # with local time
    more: int = 0
    #: Empty slots of the shown account's schedule: (UTC, local) — drop targets.
    slots: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.chips) + self.more


@dataclass
class Grid:
    view: View
    anchor: date
    first: date  # first day shown
    last: date  # last day shown
    weeks: list[list[Day]]

    @property
    def title(self) -> str:
        if self.view == "month":
            return self.anchor.strftime("%B %Y")
        if self.first.month == self.last.month:
            return f"{self.first.day}{EN_DASH}{self.last:%-d %B %Y}"
        return f"{self.first:%-d %b} {EN_DASH} {self.last:%-d %b %Y}"

    @property
    def previous(self) -> date:
        if self.view == "week":
            return self.anchor - timedelta(days=7)
        return (self.anchor.replace(day=1) - timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> date:
        if self.view == "week":
            return self.anchor + timedelta(days=7)
        return (self.anchor.replace(day=28) + timedelta(days=4)).replace(day=1)

    @property
    def days(self) -> list[Day]:
        return [day for week in self.weeks for day in week]

    def bounds(self, tz: ZoneInfo) -> list[datetime]:
        """The UTC instants where each day starts in `tz`, then where the last one ends."""
        return [day_bounds(d.date, tz)[0] for d in self.days] + [day_bounds(self.last, tz)[1]]


def grid(view: View, anchor: date, today: date) -> Grid:
    """Weeks start on Monday; a month grid shows whole weeks around the month."""
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        last = first + timedelta(days=6)
    else:
        start = anchor.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        first = start - timedelta(days=start.weekday())
        last = end + timedelta(days=6 - end.weekday())
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    cells = [Day(d, in_period=view == "week" or d.month == anchor.month, is_today=d == today)
             for d in days]
    return Grid(view, anchor, first, last, [cells[i:i + 7] for i in range(0, len(cells), 7)])


def place(g: Grid, chips: Iterable[tuple[int, Chip]], totals: dict[int, int],
          tz: ZoneInfo) -> None:
    """Put each post on its day (by index in the grid), and say how many more there are."""
    days = g.days
    for index, chip in chips:
        days[index].chips.append((chip, chip.at.astimezone(tz)))
    for index, total in totals.items():
        days[index].more = total - len(days[index].chips)


def place_slots(g: Grid, times: Iterable[datetime], tz: ZoneInfo) -> None:
    """Put each empty slot (UTC) on its day in `tz`."""
    by_date = {d.date: d for d in g.days}
    for when in times:
        local = when.astimezone(tz)
        day = by_date.get(local.date())
        if day is not None:
            day.slots.append((when, local))
