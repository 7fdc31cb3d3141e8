"""RFC 5545 recurrence rules, checked and expanded with python-dateutil (pure, no I/O).

A rule is read in its series' IANA zone: its start is the wall-clock time of the series'
first `run_at` there, and every occurrence keeps that wall-clock time across
daylight-saving changes (a time the clocks skip moves forward, one they repeat is used
once: `slots.local_to_utc`). Nothing here does date arithmetic by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from dateutil import rrule as du

from herald.errors import Invalid
from herald.planning.slots import local_to_utc, zone

#: The most often a series may fire.
MIN_GAP = timedelta(hours=1)
#: Occurrences looked at for the gap check (a rule's pattern repeats well within this).
_GAP_SAMPLE = 1000
_TOO_OFTEN = {du.SECONDLY: "every second", du.MINUTELY: "every minute"}


@dataclass(frozen=True)
class Recurrence:
    """A checked rule: its text, zone and local start, and the dateutil rule."""

    text: str
    tz: ZoneInfo
    rule: du.rrule

    def between(self, after: datetime, upto: datetime) -> list[datetime]:
        """The occurrences (UTC) later than `after` and not later than `upto`."""
        # A day's margin each side: the local bounds of a UTC range are a day off at most.
        low = after.astimezone(self.tz).replace(tzinfo=None) - timedelta(days=1)
        high = upto.astimezone(self.tz).replace(tzinfo=None) + timedelta(days=1)
        found: list[datetime] = []
        for local in self.rule.between(low, high, inc=True):
            when = local_to_utc(local.date(), local.time(), self.tz)
            if after < when <= upto and (not found or when > found[-1]):
                found.append(when)
        return found

    def stored(self) -> str:
        """The rule with its end inside it (UNTIL as local time, like its start)."""
        return _text_of(self.rule)

    @property
    def until(self) -> datetime | None:
        raw: Any = self.rule
        local = raw._until
        return None if local is None else local_to_utc(local.date(), local.time(), self.tz)

    @property
    def count(self) -> int | None:
        raw: Any = self.rule
        return cast(int | None, raw._count)

    def first(self) -> datetime | None:
        local = next(iter(self.rule), None)
        return None if local is None else local_to_utc(local.date(), local.time(), self.tz)


def parse(text: str, timezone: str, start: datetime, *, until: datetime | None = None,
          count: int | None = None) -> Recurrence:
    """The rule `text` from `start` in `timezone`, or a 422 that says what is wrong."""
    tz = zone(timezone)
    body = text.strip()
    body = body[len("RRULE:"):] if body.upper().startswith("RRULE:") else body
    if not body or "\n" in body or body.upper().startswith(("DTSTART", "EXDATE", "RDATE")):
        raise Invalid(f"recurrence rule {text!r} is not one RFC 5545 RRULE; write e.g. "
                      "'FREQ=WEEKLY;BYDAY=MO' (the start is the post's run_at)")
    local_start = start.astimezone(tz).replace(tzinfo=None)
    try:
        rule: Any = du.rrulestr(body, dtstart=local_start)
    except (ValueError, TypeError) as exc:
        raise Invalid(f"recurrence rule {text!r} does not parse: {exc}") from None
    if not isinstance(rule, du.rrule):
        raise Invalid(f"recurrence rule {text!r} is not a single RRULE")
    raw: Any = rule  # dateutil keeps COUNT, UNTIL and FREQ in private attributes
    has_count, has_until = raw._count is not None, raw._until is not None
    if until is not None and count is not None:
        raise Invalid("give the recurrence until or count, not both")
    if (has_count or has_until) and (until is not None or count is not None):
        raise Invalid("the rule has its own UNTIL or COUNT; leave out until and count")
    if until is not None:
        rule = rule.replace(until=until.astimezone(tz).replace(tzinfo=None))
    elif count is not None:
        rule = rule.replace(count=count)
    elif not (has_count or has_until):
        raise Invalid(f"recurrence rule {text!r} never ends; give until or count (or "
                      "UNTIL or COUNT in the rule)")
    if raw._freq in _TOO_OFTEN:
        raise Invalid(f"recurrence rule {text!r} fires {_TOO_OFTEN[raw._freq]}; a series "
                      "may fire at most hourly")
    recurrence = Recurrence(body, tz, rule)
    _check_gaps(recurrence, text)
    return recurrence


def _check_gaps(recurrence: Recurrence, text: str) -> None:
    previous: datetime | None = None
    for n, local in enumerate(recurrence.rule):
        if n >= _GAP_SAMPLE:
            break
        when = local_to_utc(local.date(), local.time(), recurrence.tz)
        if previous is not None and when - previous < MIN_GAP:
            raise Invalid(f"recurrence rule {text!r} fires more often than hourly "
                          f"({previous.isoformat()} and {when.isoformat()}); a series may "
                          "fire at most hourly")
        previous = when


def upcoming(recurrence: Recurrence, after: datetime, n: int) -> Iterator[datetime]:
    """The next `n` occurrences after `after` (UTC)."""
    local_after = after.astimezone(recurrence.tz).replace(tzinfo=None) - timedelta(days=1)
    given = 0
    for local in recurrence.rule.xafter(local_after, inc=True):
        when = local_to_utc(local.date(), local.time(), recurrence.tz)
        if when > after:
            yield when.astimezone(UTC)
            given += 1
            if given == n:
                return


def _text_of(rule: du.rrule) -> str:
    """dateutil's RRULE line, without the DTSTART line it writes first."""
    lines = [line for line in str(rule).splitlines() if line.startswith("RRULE:")]
    return lines[0].removeprefix("RRULE:")
