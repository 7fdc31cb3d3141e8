"""LinkedIn's API versions (`LinkedIn-Version: YYYYMM`) and when each is retired.

LinkedIn supports each monthly version for one year: 202609 answers until the end of
August 2027, then every call is a 426 NONEXISTENT_VERSION. The rule is the table.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from herald.platforms.versions import ApiVersion, day_before, month_after

if TYPE_CHECKING:
    from herald.config import Settings

SETTING = "HERALD_LINKEDIN_VERSION"
#: The newest version known to be live (platforms/API.md).
NEWEST = "202609"
SOURCE = "LinkedIn supports each version for one year"


def sunset(version: str) -> date | None:
    """The last day `version` (YYYYMM) answers, or None if it is not a version."""
    found = re.fullmatch(r"(20\d\d)(0[1-9]|1[0-2])", version.strip())
    if found is None:
        return None
    released = date(int(found.group(1)), int(found.group(2)), 1)
    return day_before(month_after(released, 12))


def api_version(settings: Settings) -> ApiVersion:
    return ApiVersion(api="LinkedIn's API", setting=SETTING,
                      version=settings.linkedin_version,
                      sunset=sunset(settings.linkedin_version), source=SOURCE, newest=NEWEST)
