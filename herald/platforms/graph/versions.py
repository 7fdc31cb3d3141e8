"""The Graph API's versions (Facebook Pages and Instagram) and when each is retired.

Meta keeps a version for about two years: each is available until two years after the
release of the next. Dates marked "Meta's changelog" are Meta's own; the others are that
rule applied to the next version's release date, until Meta publishes the date.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from herald.platforms.versions import ApiVersion

if TYPE_CHECKING:
    from herald.config import Settings

SETTING = "HERALD_GRAPH_API_VERSION"
CHANGELOG = "Meta's changelog"
ESTIMATED = "estimated: two years after the next version's release"

#: version -> (its last day, where the date comes from)
SUNSETS: dict[str, tuple[date, str]] = {
    "v19.0": (date(2026, 5, 21), CHANGELOG),
    "v20.0": (date(2026, 9, 24), CHANGELOG),
    "v21.0": (date(2027, 1, 21), ESTIMATED),   # v22.0 came out 2025-01-21
    "v22.0": (date(2027, 5, 29), ESTIMATED),   # v23.0: 2025-05-29
    "v23.0": (date(2027, 10, 8), ESTIMATED),   # v24.0: 2025-10-08
    "v24.0": (date(2028, 2, 18), ESTIMATED),   # v25.0: 2026-02-18
    "v25.0": (date(2028, 7, 29), CHANGELOG),
    "v26.0": (date(2028, 12, 1), "estimated: about two years after its release on "
                                 "2026-07-29"),
}
NEWEST = max(SUNSETS, key=lambda v: float(v.removeprefix("v")))


def api_version(settings: Settings) -> ApiVersion:
    sunset, source = SUNSETS.get(settings.graph_api_version, (None, ""))
    return ApiVersion(api="the Graph API", setting=SETTING,
                      version=settings.graph_api_version, sunset=sunset, source=source,
                      newest=NEWEST)
