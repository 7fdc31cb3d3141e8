"""LinkedIn's error answers mapped to Herald's hierarchy, in one place.

The REST API refuses a call with `{"status", "serviceErrorCode", "code", "message",
"errorDetails": {"inputErrors": [...]}}`; the token endpoint answers OAuth's
`{"error", "error_description"}`. Transport failures are mapped for every platform in
herald.platforms.http.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from herald.platforms.base import (
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    PublishError,
    RateLimitedError,
    TransientError,
)
from herald.platforms.http import Step, dict_at, list_at, to_int

_DUPLICATE_OF = re.compile(r"urn:li:(?:share|ugcPost):\d+")
_REAUTH = {65600: "the token is invalid", 65601: "the token was revoked by the user",
           65602: "the token has expired"}


class DuplicatePostError(PermanentError):
    """LinkedIn refused the post as a duplicate of an earlier one, named by original_urn."""

    original_urn: str | None = None


@dataclass(frozen=True)
class _Answer:
    """One error response, with what every branch of the mapping reads from it."""

    status: int
    body: dict[str, Any]
    said: str
    label: str
    inputs: list[dict[str, Any]]
    step: Step
    author: str
    version: str
    now: datetime


def linkedin_error(status: int, body: dict[str, Any], *, step: Step, author: str,
                   version: str, now: datetime) -> PublishError:
    """Map one LinkedIn error response to Herald's hierarchy."""
    said = str(body.get("message") or f"HTTP {status}").strip()
    inputs = [e for e in list_at(dict_at(body, "errorDetails"), "inputErrors")
              if isinstance(e, dict)]
    detail = body.get("serviceErrorCode") or body.get("code") or (
        inputs[0].get("code") if inputs else None)
    label = f"{status}/{detail}" if detail else str(status)
    answer = _Answer(status, body, said, label, inputs, step, author, version, now)
    if status >= 500:
        return _server_error(answer)
    return _BY_STATUS.get(status, _refused)(answer)


def _server_error(a: _Answer) -> PublishError:
    if a.step == "commit":
        return OutcomeUnknownError(f"LinkedIn had a server error (HTTP {a.status}) during the "
                                   "publishing call; the post may or may not be out.",
                                   code=a.label, unreachable=True)
    return TransientError(f"LinkedIn had a server error: {a.said} (code {a.label}).",
                          code=a.label, unreachable=True)


def _token_refused(a: _Answer) -> PublishError:
    why = _REAUTH.get(to_int(a.body.get("serviceErrorCode")) or 0, f"refused: {a.said}")
    return NeedsReauthError(f"LinkedIn no longer accepts the account's access token: {why}."
                            f" Reconnect the account (code {a.label}).", code=a.label)


def _permission_missing(a: _Answer) -> PublishError:
    grant = "w_member_social"
    if a.author.startswith("urn:li:organization:"):
        grant = "r_organization_social" if a.step == "read" else (
            "w_organization_social; the member must be the organization's ADMINISTRATOR,"
            " CONTENT_ADMIN or DIRECT_SPONSORED_CONTENT_POSTER")
    return PermanentError(f"LinkedIn refused the call: the account lacks a permission "
                          f"({a.said}). Reconnect it granting {grant} (code {a.label}).",
                          code=a.label)


def _version_retired(a: _Answer) -> PublishError:
    return PermanentError(f"LinkedIn no longer serves API version {a.version} ({a.said}). Set "
                          "HERALD_LINKEDIN_VERSION to a current version (YYYYMM) and "
                          f"restart Herald (code {a.label}).", code=a.label)


def _throttled(a: _Answer) -> PublishError:
    # No Retry-After exists. Daily limits reset at midnight UTC: waiting less only burns
    # calls. Anything else gets a short pause, never past midnight.
    midnight = (a.now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    to_midnight = (midnight - a.now).total_seconds() + 60
    wait = to_midnight if "DAY" in a.said.upper() else min(900.0, to_midnight)
    return RateLimitedError(f"LinkedIn throttled the account: {a.said} It waits about "
                            f"{max(1, round(wait / 60))} min (code {a.label}).", code=a.label,
                            retry_after=wait)


def _refused(a: _Answer) -> PublishError:
    if a.status == 422 and any(e.get("code") == "DUPLICATE_POST" for e in a.inputs):
        dup = DuplicatePostError(f"LinkedIn refused the post as a duplicate of an earlier "
                                 f"one: {a.said} (code 422/DUPLICATE_POST).",
                                 code="422/DUPLICATE_POST")
        dup.original_urn = found.group(0) if (found := _DUPLICATE_OF.search(a.said)) else None
        return dup
    if a.status in (404, 409) and a.step == "read":  # read-after-write lag on a fresh upload
        return TransientError(f"LinkedIn could not find it yet: {a.said} (code {a.label}).",
                              code=a.label, retry_after=30)
    descriptions = "; ".join(str(e.get("description")) for e in a.inputs
                             if e.get("description"))
    return PermanentError(f"LinkedIn refused the post: {a.said}"
                          f"{f' ({descriptions})' if descriptions else ''} (code {a.label}).",
                          code=a.label)


_BY_STATUS: dict[int, Callable[[_Answer], PublishError]] = {
    401: _token_refused, 403: _permission_missing, 426: _version_retired, 429: _throttled}


def refresh_error(status: int, body: dict[str, Any], *,
                  secrets: tuple[str, ...]) -> PublishError | None:
    """Map the token endpoint's answer to a refresh; None when it carries a new token.

    `secrets` (the refresh token, the client secret) are scrubbed from what LinkedIn said.
    """
    said = str(body.get("error_description") or body.get("error") or f"HTTP {status}")
    for secret in secrets:
        said = said.replace(secret, "[secret]") if secret else said
    if status >= 500 or status == 429:
        return TransientError(f"LinkedIn could not refresh the token now: {said}.",
                              code=f"refresh/{status}", unreachable=status >= 500)
    if body.get("error") == "invalid_client":
        return PermanentError(f"LinkedIn refused Herald's client id or secret: {said}.",
                              code="refresh/invalid_client")
    if status >= 400 or not body.get("access_token"):
        return NeedsReauthError(f"LinkedIn refused to refresh the token: {said}. Reconnect the "
                                "account.", code=f"refresh/{body.get('error') or status}")
    return None
