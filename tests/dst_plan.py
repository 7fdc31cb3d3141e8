"""Issue 15's "Done when" across a daylight-saving change, shared by the API, CLI, web UI
and browser tests: the schedule, the moment the posts are added, and the twenty slots
they must land in, written out by hand (not recomputed with the code under test).

Berlin's clocks go from 02:00 CET to 03:00 CEST on Sunday 28 March 2027; the Sunday 02:30
slot does not exist that day and moves forward by the jump, to 03:30.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

ZONE = "Europe/Berlin"
BERLIN = ZoneInfo(ZONE)
#: The schedule, as the CLI and the web UI's schedule form write it.
SLOT_LINES = ["mon-fri 09:00,17:30", "sat 11:00", "sun 02:30"]
#: The same, as PUT /api/v1/accounts/{id}/schedule takes it.
SLOTS = ([{"weekday": d, "time": t} for d in ("mon", "tue", "wed", "thu", "fri")
          for t in ("09:00", "17:30")]
         + [{"weekday": "sat", "time": "11:00"}, {"weekday": "sun", "time": "02:30"}])
#: "Now" for the whole test: Monday 22 March 2027, 13:00 in Berlin.
NOW = datetime(2027, 3, 22, 12, 0, tzinfo=UTC)
POSTS = 20
#: Where the twenty posts land, in Berlin's wall-clock time with its UTC offset.
EXPECTED = [
    "Mon 2027-03-22 17:30 +0100",
    "Tue 2027-03-23 09:00 +0100", "Tue 2027-03-23 17:30 +0100",
    "Wed 2027-03-24 09:00 +0100", "Wed 2027-03-24 17:30 +0100",
    "Thu 2027-03-25 09:00 +0100", "Thu 2027-03-25 17:30 +0100",
    "Fri 2027-03-26 09:00 +0100", "Fri 2027-03-26 17:30 +0100",
    "Sat 2027-03-27 11:00 +0100",
    "Sun 2027-03-28 03:30 +0200",  # 02:30 does not exist that night
    "Mon 2027-03-29 09:00 +0200", "Mon 2027-03-29 17:30 +0200",
    "Tue 2027-03-30 09:00 +0200", "Tue 2027-03-30 17:30 +0200",
    "Wed 2027-03-31 09:00 +0200", "Wed 2027-03-31 17:30 +0200",
    "Thu 2027-04-01 09:00 +0200", "Thu 2027-04-01 17:30 +0200",
    "Fri 2027-04-02 09:00 +0200",
]


def clock() -> datetime:
    return NOW


def in_berlin(times: Iterable[datetime | str]) -> list[str]:
    """UTC times (datetimes or ISO 8601 text) as EXPECTED writes them."""
    out = []
    for t in times:
        when = datetime.fromisoformat(t) if isinstance(t, str) else t
        assert when.tzinfo is not None, f"{when!r} has no offset"
        out.append(when.astimezone(BERLIN).strftime("%a %Y-%m-%d %H:%M %z"))
    return out
