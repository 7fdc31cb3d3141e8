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
    words = _their_words(status_text, sub)
    if row is None:
        # No subcode: Meta's words are all there is; say them once, with what to check.
        why = f" (it said: {words})" if words else " and gave no reason"
        return PermanentError(f"Instagram could not process the media{why}. Check that its "
                              "URL is public and the file meets Instagram's format rules, "
                              "then retry the post.", code="ERROR")
    mapped = instagram_error({"code": row[0], "error_subcode": sub}, step="read")
    if isinstance(mapped, PermanentError):
        return type(mapped)(mapped.message, code=mapped.code)
    # An ERROR container is dead whatever its class: trying again means a fresh container.
    return NeedsNewContainer(f"Instagram {row[2]} while processing the media; Herald builds "
                             f"a fresh container and tries again (code {mapped.code}).",
                             code=mapped.code)


def _their_words(status_text: str | None, sub: int | None) -> str:
    """Meta's status text less what carries nothing ("Error:", the subcode, "None")."""
    text = (status_text or "").strip()
    if text in ("None", "null"):
        return ""
    text = re.sub(r"^Error\s*:?\s*", "", text)
    text = re.sub(r"(?:with )?(?:error )?(?:code )?\b" + str(sub) + r"\b", "", text) \
        if sub else text
    return text.strip(" .:")


def quota_used_up(reading: QuotaReading, wait: float) -> RateLimitedError:
    """The content publishing limit is reached; a slot frees in `wait` seconds."""
    exc = RateLimitedError(
        f"Instagram's publishing limit is used up ({reading.usage} of {reading.total} "
        f"posts in {reading.window_seconds // 3600} h); a slot frees in about "
        f"{wait / 3600:g} h (code 9/2207042).", code="9/2207042", retry_after=wait)
    setattr(exc, QUOTA_ATTR, reading.as_dict())
    return exc
