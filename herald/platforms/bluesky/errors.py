"""Bluesky's (XRPC) error answers mapped to Herald's hierarchy, in one place.

Every XRPC error is a JSON body `{"error": "<Name>", "message": "..."}` with an HTTP status
(atproto.com/specs/xrpc): 400 InvalidRequest and named errors of each method
(ExpiredToken, InvalidToken, AccountTakedown, RecordNotFound, BlobTooLarge...), 401
AuthenticationRequired, 413 PayloadTooLarge, 429 RateLimitExceeded with `ratelimit-reset`
(Unix seconds), 5xx. Transport failures are mapped for every platform in
herald.platforms.http.
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
from herald.platforms.http import Step

_SESSION_ENDED = frozenset({"ExpiredToken", "InvalidToken"})
_ACCOUNT_GONE = {"AccountTakedown": "was taken down by its PDS",
                 "AccountDeactivated": "is deactivated",
                 "AccountNotFound": "no longer exists"}


class SessionExpired(TransientError):
    """The access token ran out: refresh the session (or sign in again) and retry."""


class NotFound(PermanentError):
    """The record (or repository) asked for does not exist."""


def bluesky_error(status: int, body: Mapping[str, object], *, step: Step, signing_in: bool,
                  headers: Mapping[str, str], now: datetime) -> PublishError:
    """Map one XRPC error answer (`signing_in`: to createSession or refreshSession)."""
    name = str(body.get("error") or "")
    said = str(body.get("message") or name or f"HTTP {status}").strip()
    code = f"{status}/{name}" if name else str(status)
    if status == 429 or name == "RateLimitExceeded":
        return _throttled(said, code, headers, now)
    if status >= 500:
        if step == "commit":
            return OutcomeUnknownError(f"Bluesky's server failed during the publishing call "
                                       f"({said}, code {code}); the post may or may not be "
                                       "out.", code=code)
        return TransientError(f"Bluesky's server had a problem: {said} (code {code}).",
                              code=code)
    if name in _ACCOUNT_GONE:
        return NeedsReauthError(f"The Bluesky account {_ACCOUNT_GONE[name]} ({said}).",
                                code=code)
    if signing_in and status in (400, 401):
        return NeedsReauthError(f"Bluesky refused the account's handle and app password "
                                f"({said}). Make a new app password in Bluesky's settings and "
                                f"update the account's token (code {code}).", code=code)
    if name in _SESSION_ENDED:
        return SessionExpired(f"Bluesky ended the session: {said} (code {code}).", code=code)
    if status == 401 or name == "AuthenticationRequired":
        return NeedsReauthError(f"Bluesky refused the account's session ({said}); update its "
                                f"app password (code {code}).", code=code)
    if name == "RecordNotFound" or status == 404:
        return NotFound(f"Bluesky has no such record: {said} (code {code}).", code=code)
    if status == 413 or name in ("BlobTooLarge", "PayloadTooLarge"):
        return PermanentError(f"Bluesky refused a file as too large: {said} (code {code}).",
                              code=code)
    if status == 408:
        return TransientError(f"Bluesky timed out: {said} (code {code}).", code=code)
    return PermanentError(f"Bluesky refused the post: {said} (code {code}).", code=code)


def _throttled(said: str, code: str, headers: Mapping[str, str],
               now: datetime) -> RateLimitedError:
    # The PDS says when the window resets, as Unix seconds (ratelimit-reset).
    wait = 300.0
    reset = headers.get("ratelimit-reset")
    if reset and reset.strip().isdigit():
        wait = max(1.0, float(reset) - now.timestamp())
    elif (after := headers.get("retry-after")) and after.strip().isdigit():
        wait = max(1.0, float(after))
    return RateLimitedError(f"Bluesky throttled the account: {said} It waits about "
                            f"{max(1, round(wait / 60))} min (code {code}).", code=code,
                            retry_after=wait)
