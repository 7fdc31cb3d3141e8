"""Mastodon's error answers mapped to Herald's hierarchy, in one place.

Mastodon answers an error as `{"error": "<message>"}` (OAuth's also carry
`error_description`) with an HTTP status (docs.joinmastodon.org/methods/statuses/,
docs.joinmastodon.org/api/guidelines/): 401 "The access token is invalid", 403 "This
action is outside the authorized scopes" or a disabled login, 404 "Record not found",
422 "Validation failed: …" (the status was refused, with Mastodon's reason), 429 with
`X-RateLimit-Reset` (an ISO 8601 time, docs.joinmastodon.org/api/rate-limits/), 503 "There
was a temporary problem serving your request" and other 5xx. Transport failures are mapped
for every platform in herald.platforms.http.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from herald.platforms.base import (
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    PublishError,
    RateLimitedError,
    TransientError,
)
from herald.platforms.http import Step, parse_time

#: The status post's 422 for media still processing (media_attachments.validations.not_ready):
#: not a refusal, the attachment needs a moment.
_NOT_READY = "not finished processing"


class NotFound(PermanentError):
    """The status, account or attachment asked for does not exist."""


class MediaNotReady(TransientError):
    """An attachment is still being processed: wait, then post again."""


def said_of(status: int, body: Mapping[str, object]) -> str:
    error = str(body.get("error") or "").strip()
    detail = str(body.get("error_description") or "").strip()
    return " ".join(p for p in (error, detail) if p) or f"HTTP {status}"


def mastodon_error(status: int, body: Mapping[str, object], *, step: Step,
                   headers: Mapping[str, str], now: datetime) -> PublishError:
    """Map one error answer of a Mastodon instance."""
    said = said_of(status, body)
    code = str(status)
    if status == 429:
        return _throttled(said, code, headers, now)
    if status >= 500:
        if step == "commit":
            return OutcomeUnknownError(f"The Mastodon instance failed during the publishing "
                                       f"call ({said}, HTTP {code}); the status may or may "
                                       "not be out.", code=code)
        return TransientError(f"The Mastodon instance had a problem: {said} (HTTP {code}).",
                              code=code)
    if status == 401:
        return NeedsReauthError(f"The Mastodon instance refused the account's access token "
                                f"({said}); connect the account again or paste a new token "
                                f"(HTTP {code}).", code=code)
    if status == 403:
        if "scope" in said.lower():
            return NeedsReauthError(f"The account's Mastodon token lacks a permission Herald "
                                    f"needs ({said}); make a token with the scopes "
                                    f"write:statuses and write:media (HTTP {code}).",
                                    code=code)
        return NeedsReauthError(f"The Mastodon instance will not let the account post "
                                f"({said}); check the account on its instance (HTTP {code}).",
                                code=code)
    if status == 404:
        return NotFound(f"The Mastodon instance has no such record: {said} (HTTP {code}).",
                        code=code)
    if status == 422 and _NOT_READY in said.lower():
        return MediaNotReady(f"Mastodon is still processing the media: {said}", code=code,
                             retry_after=5.0)
    if status == 422:
        return PermanentError(f"The Mastodon instance refused the status: {said}",
                              code=code)
    if status == 408:
        return TransientError(f"The Mastodon instance timed out: {said} (HTTP {code}).",
                              code=code)
    if status == 413:
        return PermanentError(f"The Mastodon instance refused a file as too large: {said} "
                              f"(HTTP {code}).", code=code)
    return PermanentError(f"The Mastodon instance refused the request: {said} "
                          f"(HTTP {code}).", code=code)


def _throttled(said: str, code: str, headers: Mapping[str, str],
               now: datetime) -> RateLimitedError:
    # X-RateLimit-Reset is an ISO 8601 time ("2026-12-06T21:00:00.123Z"), not seconds.
    wait = 300.0
    reset = parse_time(headers.get("x-ratelimit-reset"))
    if reset is not None:
        wait = max(1.0, (reset - now).total_seconds())
    return RateLimitedError(f"The Mastodon instance throttled the account: {said}. It "
                            f"waits about {max(1, round(wait / 60))} min (HTTP {code}).",
                            code=code, retry_after=wait)
