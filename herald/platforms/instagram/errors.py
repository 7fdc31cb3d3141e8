"""Instagram's error mapping: the Graph API's (graph/errors.py) under Instagram's name and
permissions, and what only Instagram answers: a media container's failed status, whose text
carries nothing but a subcode, and a publishing limit used up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from herald.platforms.base import PermanentError, PublishError, RateLimitedError
from herald.platforms.graph.errors import SUBCODES, NeedsNewContainer, graph_error
from herald.platforms.http import Step
from herald.platforms.instagram import SPEC

if TYPE_CHECKING:
    from herald.platforms.graph.session import Usage
    from herald.platforms.instagram.client import QuotaReading

#: The attribute a used-up limit's error carries the reading on (a dict like the result's).
QUOTA_ATTR = "quota"
_STATUS_SUBCODE = re.compile(r"\b(2\d{6})\b")


def instagram_error(error: Mapping[str, Any], *, step: Step, status: int = 400,
                    usage: Usage | None = None,
                    retry_after: float | None = None) -> PublishError:
    """Map one Graph error envelope of an Instagram call to Herald's hierarchy."""
    return graph_error(error, platform=SPEC.display_name, step=step, status=status,
                       usage=usage, retry_after=retry_after, permissions=SPEC.permissions)


def container_failure(status_code: str, status_text: str) -> PublishError | None:
    """What a container's `status_code` says went wrong (ERROR, EXPIRED); None otherwise."""
    if status_code == "ERROR":
        return container_error(status_text)
    if status_code == "EXPIRED":
        return NeedsNewContainer("Instagram let the media container expire (24 h) before it "
                                 "was published.", code="EXPIRED")
    return None


def container_error(status_text: str) -> PublishError:
    """Map an ERROR container's status text (it carries only the subcode) to the hierarchy."""
    found = _STATUS_SUBCODE.search(status_text or "")
    sub = int(found.group(1)) if found else None
    row = SUBCODES.get(sub or 0)
    error = {"code": row[0] if row else None, "error_subcode": sub, "message": status_text}
    mapped = instagram_error(error, step="read")
    said = f" Instagram said: {status_text.strip()!r}." if status_text else ""
    if isinstance(mapped, PermanentError):
        return type(mapped)(f"{mapped.message}{said}", code=mapped.code)
    # An ERROR container is dead whatever its class: trying again means a fresh container.
    return NeedsNewContainer(f"Instagram could not process the media container "
                             f"(code {mapped.code or 'unknown'}).{said}", code=mapped.code)


def quota_used_up(reading: QuotaReading, wait: float) -> RateLimitedError:
    """The content publishing limit is reached; a slot frees in `wait` seconds."""
    exc = RateLimitedError(
        f"Instagram's publishing limit is used up ({reading.usage} of {reading.total} "
        f"posts in {reading.window_seconds // 3600} h); a slot frees in about "
        f"{wait / 3600:g} h (code 9/2207042).", code="9/2207042", retry_after=wait)
    setattr(exc, QUOTA_ATTR, reading.as_dict())
    return exc
