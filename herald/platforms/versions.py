"""The platform API versions Herald is configured to call, and when each is switched off.

Each platform's folder knows its API's versions and their sunset dates (the one table per
API: `graph/versions.py`, `linkedin/versions.py`) and says which setting picks the version
(PlatformSpec.api_version); this module asks them all. A version within WARN_DAYS of its
sunset is warned about when Herald starts and by `herald doctor`; a version past it fails
every call (LinkedIn answers 426, Meta an OAuthException).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from herald.config import Settings

log = logging.getLogger(__name__)

#: Warn this long before a configured version's sunset.
WARN_DAYS = 60


@dataclass(frozen=True)
class ApiVersion:
    """One configured API version and what is known of its end."""

    api: str  # "the Graph API"
    setting: str  # "HERALD_GRAPH_API_VERSION"
    version: str
    #: The last day it answers; None when the table does not know the version.
    sunset: date | None
    #: Where the date comes from ("Meta's changelog", "estimated: …").
    source: str
    #: What to set instead (the newest version the table knows).
    newest: str

    def days_left(self, today: date) -> int | None:
        return None if self.sunset is None else (self.sunset - today).days

    def problem(self, today: date, within: int = WARN_DAYS) -> str | None:
        """What to tell an operator about this version today, if anything."""
        left = self.days_left(today)
        if left is None:
            return (f"{self.setting}={self.version}: Herald does not know when {self.api} "
                    f"retires this version; check it, or set {self.newest}")
        if left < 0:
            return (f"{self.setting}={self.version}: {self.api} retired it on "
                    f"{self.sunset:%Y-%m-%d}; every call fails; set {self.newest}")
        if left <= within:
            return (f"{self.setting}={self.version}: {self.api} retires it on "
                    f"{self.sunset:%Y-%m-%d}, in {left} day{'' if left == 1 else 's'} "
                    f"({self.source}); set {self.newest} before then")
        return None


def configured(settings: Settings) -> list[ApiVersion]:
    """Every API version the settings pick, once each (two platforms may share an API)."""
    from herald.platforms.registry import SPECS

    seen: dict[str, ApiVersion] = {}
    for spec in SPECS:
        if spec.api_version is not None:
            version = spec.api_version(settings)
            seen.setdefault(version.setting, version)
    return list(seen.values())


def sunset_problems(settings: Settings, today: date | None = None,
                    within: int = WARN_DAYS) -> list[str]:
    today = today or date.today()
    return [p for v in configured(settings) if (p := v.problem(today, within)) is not None]


_warned: set[str] = set()


def warn_at_start(settings: Settings, today: date | None = None) -> list[str]:
    """Log each problem once per process (every entry point builds a Herald)."""
    problems = [p for p in sunset_problems(settings, today) if p not in _warned]
    for problem in problems:
        _warned.add(problem)
        log.warning("API version: %s", problem)
    return problems


def month_after(version: date, months: int) -> date:
    """The first of the month `months` after `version`'s month."""
    index = version.year * 12 + version.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def day_before(day: date) -> date:
    return day - timedelta(days=1)
