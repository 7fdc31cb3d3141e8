"""The user's wall-clock time: reading dates and times typed in a form, and printing them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from herald.errors import Invalid


@lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo:
    """The zone by IANA name; UTC for a missing or unknown name (never fails a page)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@lru_cache(maxsize=1)
def zone_names() -> list[str]:
    return sorted(available_timezones() - {"localtime", "Factory"})


def parse_date(value: str, label: str = "The date") -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{label} {value!r} is not a date; use the format 2026-12-01.") from None


def parse_time(value: str, label: str = "The time") -> time:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{label} {value!r} is not a time of day; use the format 09:30.") \
            from None


def local_datetime(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`day` at `at` on the wall clock of `tz`, refusing times a clock change skips.

    In the hour a clock goes back, the first of the two moments is meant (fold=0).
    """
    naive = datetime.combine(day, at.replace(tzinfo=None))
    aware = naive.replace(tzinfo=tz)
    # zoneinfo accepts 02:30 on the night clocks jump from 02:00 to 03:00; a round trip
    # through UTC lands elsewhere, which is how a skipped time shows itself.
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise Invalid(f"{at:%H:%M} does not exist on {day:%-d %B %Y} in {tz.key}: the clocks "
                      "go forward that night. Pick another time.")
    return aware


def parse_local(day: str, at: str, tz: ZoneInfo) -> datetime:
    if not day.strip() or not at.strip():
        raise Invalid("Give both a date and a time, or choose “Post now”.")
    return local_datetime(parse_date(day), parse_time(at), tz)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where `day` starts and ends in `tz` (23 or 25 hours on DST days)."""
    start = datetime.combine(day, time(), tz)
    end = datetime.combine(day + timedelta(days=1), time(), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def fmt(value: datetime | None, tz: ZoneInfo, pattern: str = "%a %-d %b %Y, %H:%M") -> str:
    """A time as the user reads it, in their zone; an em dash for none."""
    if value is None:
        return "—"
    return value.astimezone(tz).strftime(pattern)
