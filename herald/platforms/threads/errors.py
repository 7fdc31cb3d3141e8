"""Threads' error mapping: the Graph API's (graph/errors.py) under Threads' name and
permissions (Threads answers Graph-style error JSON: `{"error": {"message", "type",
"code", "error_subcode", "fbtrace_id"}}`), plus what only Threads answers: a container's
failed `status` with its `error_message` (FAILED_DOWNLOADING_VIDEO, INVALID_DURATION...),
and its publishing limit used up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from herald.platforms.base import PermanentError, PublishError, RateLimitedError
from herald.platforms.graph.errors import NeedsNewContainer, graph_error
from herald.platforms.http import Step, to_int
from herald.platforms.threads import PERMISSIONS

if TYPE_CHECKING:
    from herald.platforms.graph.session import Usage
    from herald.platforms.threads.client import QuotaReading

PLATFORM = "Threads"

#: Container error_message values (Threads API troubleshooting), and what they mean. A
#: failed download may be the media host's passing problem: a fresh container may take.
#: The others are about the file itself: sending it again cannot help.
CONTAINER_ERRORS: dict[str, tuple[bool, str]] = {
    "FAILED_DOWNLOADING_VIDEO": (True, "could not download the video from its URL (is it "
                                       "public, and does its host answer quickly?)"),
    "FAILED_PROCESSING_AUDIO": (False, "could not process the video's audio (use AAC)"),
    "FAILED_PROCESSING_VIDEO": (False, "could not process the video (use MP4 or MOV with "
                                       "H.264 or HEVC)"),
    "INVALID_ASPEC_RATIO": (False, "refused the media's aspect ratio (at most 10:1)"),
    "INVALID_ASPECT_RATIO": (False, "refused the media's aspect ratio (at most 10:1)"),
    "INVALID_BIT_RATE": (False, "refused the video's bit rate (at most 100 Mbps)"),
    "INVALID_DURATION": (False, "refused the video's length (at most 5 minutes)"),
    "INVALID_FRAME_RATE": (False, "refused the video's frame rate (23 to 60 FPS)"),
    "INVALID_AUDIO_CHANNELS": (False, "refused the video's audio channels (mono or stereo)"),
    "INVALID_AUDIO_CHANNEL_LAYOUT": (False, "refused the video's audio channel layout"),
}


#: Subcodes whose Graph-wide wording (written for Instagram) would mislead on Threads; seen
#: from graph.threads.net by Postiz (threads.provider.ts handleErrors).
_OWN_SUBCODES = {
    2207051: "restricts this activity to protect its community (its spam and abuse checks "
             "flagged the post or the profile). Check the profile in the Threads app, change "
             "the post, and retry later",
    4279013: "says this profile is restricted. Check it in the Threads app; Herald cannot "
             "publish for it until Threads lifts the restriction",
}


def threads_error(error: Mapping[str, Any], *, step: Step, status: int = 400,
                  usage: Usage | None = None,
                  retry_after: float | None = None) -> PublishError:
    """Map one Graph-style error envelope of a Threads call to Herald's hierarchy."""
    sub = to_int(error.get("error_subcode"))
    if sub in _OWN_SUBCODES:
        label = f"{to_int(error.get('code'))}/{sub}"
        return PermanentError(f"Threads {_OWN_SUBCODES[sub]} (code {label}).", code=label)
    return graph_error(error, platform=PLATFORM, step=step, status=status, usage=usage,
                       retry_after=retry_after, permissions=PERMISSIONS)


def container_failure(status: str, error_message: str) -> PublishError | None:
    """What a container's `status` says went wrong (ERROR, EXPIRED); None otherwise."""
    if status == "EXPIRED":
        return NeedsNewContainer("Threads let the media container expire (24 h) before it "
                                 "was published; Herald builds a fresh one.", code="EXPIRED")
    if status != "ERROR":
        return None
    name = (error_message or "").strip().upper()
    known = CONTAINER_ERRORS.get(name)
    if known is None:
        # UNKNOWN or nothing at all: Meta said no more; say what to check, once.
        said = f" ({error_message.strip()})" if name not in ("", "UNKNOWN", "NONE", "NULL") \
            else ""
        return PermanentError(f"Threads could not process the media{said}. Check that its "
                              "URL is public and the file meets Threads' media rules (JPEG "
                              "or PNG images up to 8 MB; MP4 or MOV videos up to 5 minutes "
                              "and 1 GB), then retry the post.", code="ERROR")
    fresh, text = known
    if fresh:
        return NeedsNewContainer(f"Threads {text}; Herald builds a fresh container and tries "
                                 f"again (code {name}).", code=name)
    return PermanentError(f"Threads {text}. Fix the file and retry the post (code {name}).",
                          code=name)


def quota_used_up(reading: QuotaReading, wait: float) -> RateLimitedError:
    """The 250-posts-per-24-hours limit is reached; a slot frees in `wait` seconds."""
    exc = RateLimitedError(
        f"Threads' publishing limit is used up ({reading.usage} of {reading.total} posts "
        f"in {reading.window_seconds // 3600} h); a slot frees in about {_span(wait)}.",
        code="quota", retry_after=wait)
    setattr(exc, "quota", reading.as_dict())  # noqa: B010 - read like Instagram's
    return exc


def _span(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    return f"{round(seconds / 3600, 1):g} h"
