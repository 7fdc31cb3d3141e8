"""The Graph API's error envelope mapped to Herald's hierarchy: what Facebook Pages and
Instagram share.

Each platform's own mapping (herald/platforms/<name>/errors.py) calls `graph_error` with
its display name and the permissions it publishes with, and adds what only it answers
(Instagram: a container's status, its publishing limit). Meta's codes and subcodes are one
namespace across the Graph API, and every Graph answer has always been read against all of
them, so the subcode table stays whole here; its comment says which rows each product
documents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from herald.platforms.base import (
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    PublishError,
    RateLimitedError,
    TransientError,
)
from herald.platforms.http import Step, to_int

if TYPE_CHECKING:
    from herald.platforms.graph.session import Usage

DEFAULT_THROTTLE_WAIT = 900.0
QUOTA_WAIT = 3600.0
#: Named when Meta refuses for a missing permission and the caller named none.
DEFAULT_PERMISSIONS = "the publishing permissions"


class NeedsNewContainer(TransientError):
    """The media container is spoiled; a fresh container may succeed."""


class ContainerNotReady(TransientError):
    """The media container has not finished processing yet."""


# Subcode -> (parent code, kind, what the platform did). Kinds: server (maybe processed),
# retry (refused, retry later), new (container), wait (keep polling), throttle, quota,
# permanent. Instagram rows are the reference's IG table; 13xxxxx/14xxxxx are Pages rows.
_S, _N, _P = "server", "new", "permanent"
SUBCODES: dict[int, tuple[int, str, str]] = {
    2207003: (-2, _S, "timed out downloading the media"),
    2207020: (-2, _N, "refused the media: it expired before it was published"),
    2207001: (-1, _S, "had an internal server error"),
    2207032: (-1, _N, "failed to create the media"),
    2207053: (-1, _N, "had an unknown error uploading the video"),
    2207057: (1, _P, "refused the video: the thumbnail offset is outside the video"),
    2207051: (4, _P, "blocked the post as suspected spam; check the account in the Instagram app"),
    2207042: (9, "quota", "reached the account's daily publishing limit"),
    2207006: (24, _N, "could not find the media (a permission is missing or the token expired)"),
    2207008: (24, "retry", "could not find the media container, or it expired"),
    2207050: (25, _P, "says the account is inactive or checkpointed; log in to the Instagram "
                     "app and follow its instructions"),
    2207023: (100, _P, "refused the media: its type is not supported"),
    2207028: (100, _P, "refused the carousel: it must have 2 to 10 items"),
    2207035: (100, _P, "refused the product tags: videos take no tag positions"),
    2207036: (100, _P, "refused the product tags: photos need tag positions"),
    2207037: (100, _P, "refused the product tags: a product could not be tagged"),
    2207040: (100, _P, "refused the caption: it tags more than 20 accounts"),
    2207026: (352, _P, "refused the video: its format is not supported (MP4/MOV, H.264, AAC)"),
    2207052: (9004, _N, "could not fetch the media from its URL (is it public?)"),
    2207027: (9007, "wait", "has not finished processing the media"),
    2207004: (36000, _P, "refused the image: it is larger than 8 MiB"),
    2207005: (36001, _P, "refused the image: its format is not supported (use JPEG)"),
    2207009: (36003, _P, "refused the image: its aspect ratio is not between 4:5 and 1.91:1"),
    2207010: (36004, _P, "refused the caption: it is longer than 2,200 characters"),
    # Undocumented, seen in the wild: fetch/processing hiccups a fresh container may fix.
    **dict.fromkeys((2207076, 2207077, 2207082), (
        -1, _N, "could not fetch or process the video (check its hosting and encoding)")),
    2207081: (-1, _P, "refused the reel: trial reels are not available here"),
    1366046: (100, _P, "refused the photo: it is larger than 4 MB or not a supported type"),
    1390008: (368, "throttle", "says the Page is posting too fast"),
    1404078: (200, _P, "needs Page Publishing Authorization: complete it in the Page's "
                      "settings on Facebook"),
    1346003: (368, _P, "refused the post under its community standards"),
    1404102: (368, _P, "refused the post under its community standards"),
    # Video uploads Meta's Video API error table says to retry (code 390 and 6000's family):
    # the upload failed or timed out on Meta's side; nothing was published.
    6000: (390, "retry", "had a problem receiving the video; it is sent again shortly"),
    1363019: (390, "retry", "had a problem receiving the video; it is sent again shortly"),
    1363030: (390, "retry", "timed out receiving the video; it is sent again shortly"),
    1363037: (390, "retry", "lost part of the video upload; it is sent again shortly"),
}
# Codes that stand for one of the rows above when Meta sends no subcode.
_CODE_AS_SUBCODE = {36000: 2207004, 36001: 2207005, 36003: 2207009, 36004: 2207010,
                    352: 2207026, 9004: 2207052, 9007: 2207027}
_CODES: dict[int, tuple[str, str]] = {
    -2: (_S, "had a temporary error"),
    -1: (_S, "had an internal error"),
    1: (_S, "had an unknown API error"),
    2: ("server", "had a temporary service problem"),
    4: ("throttle", "throttled the app (too many calls)"),
    17: ("throttle", "throttled the user (too many calls)"),
    32: ("throttle", "throttled the Page (too many calls)"),
    613: ("throttle", "throttled these calls (rate limit)"),
    341: ("throttle", "reached an application limit"),
    80001: ("throttle", "throttled the Page (business use case limit)"),
    80002: ("throttle", "throttled the Instagram account (business use case limit)"),
    368: ("permanent", "blocked this post under its policies"),
    506: ("permanent", "refused the post as a duplicate of the previous one"),
    100: ("permanent", "refused a value of the post"),
    390: ("retry", "could not receive the video this time; it is sent again shortly"),
    6000: ("retry", "had a problem receiving the video; it is sent again shortly"),
}
_REAUTH_REASONS = {
    458: "the app is no longer installed for the user", 460: "the password was changed",
    459: "the user must pass a security checkpoint on Facebook", 467: "the token is invalid",
    463: "the token has expired", 464: "the user has not confirmed the account",
    492: "the user no longer has a role on the Page"}
_PERMISSION_NAME = re.compile(r"\b(?:pages|instagram|publish|business|threads)_[a-z_]+\b")
#: Meta's own prefix ("(#100) ") and its closing pointer to the documentation: noise.
_NOISE = (re.compile(r"^\(#\d+\)\s*"),
          re.compile(r"\s*Please read the Graph API documentation at \S+\s*$"))
#: Meta's (#10) answer for an account that is personal, not professional.
_NOT_BUSINESS = re.compile(r"not an? Instagram (?:Business|professional)", re.IGNORECASE)


class GraphErrors(Protocol):
    """A platform's mapping of one Graph error envelope (what a GraphSession raises)."""

    def __call__(self, error: Mapping[str, Any], *, step: Step, status: int = 400,
                 usage: Usage | None = None,
                 retry_after: float | None = None) -> PublishError: ...


def graph_error(error: Mapping[str, Any], *, platform: str, step: Step, status: int = 400,
                usage: Usage | None = None, retry_after: float | None = None,
                permissions: str = DEFAULT_PERMISSIONS) -> PublishError:
    """Map one Graph error envelope (its "error" object) to Herald's hierarchy.

    `platform` is the display name messages start with; `permissions` what to grant when
    Meta names none of the missing ones.
    """
    code, sub = to_int(error.get("code")), to_int(error.get("error_subcode"))
    label = f"{code}/{sub}" if sub is not None else str(code) if code is not None \
        else f"HTTP {status}"
    said = str(error.get("error_user_msg") or error.get("message") or "no details").strip()
    if code in (190, 102):
        why = _REAUTH_REASONS.get(sub or 0, "the token is invalid or expired")
        return NeedsReauthError(f"{platform} no longer accepts the account's access token: "
                                f"{why}. Reconnect the account (code {label}).", code=label)
    row = SUBCODES.get(sub or _CODE_AS_SUBCODE.get(code or 0, 0))
    if row is None and (code == 10 or (code is not None and 200 <= code <= 299)):
        return _refused_access(said, platform=platform, label=label, permissions=permissions)
    if row is None and code == 100 and "missing permission" in said:
        return PermanentError(f"{platform} could not reach what the post refers to: it does "
                              f"not exist or the app lacks a permission. Reconnect the "
                              f"account and grant {_named(said, permissions)}, then retry "
                              f"(code {label}).", code=label)
    if code == 100 and sub == 33 and step == "read":
        # Meta answers "object does not exist" for containers it is still creating.
        return TransientError(f"{platform} says the object does not exist yet; it will be "
                              f"read again (code {label}).", code=label, retry_after=30)
    if row is not None:
        kind, text = row[1], row[2]
    elif code in _CODES:
        kind, text = _CODES[code]
    elif code is not None and 80000 <= code <= 80099:
        kind, text = "throttle", "throttled the business use case"
    elif status == 429:
        kind, text = "throttle", "throttled the calls"
    elif error.get("is_transient") is True or status >= 500:
        kind, text = "server", f"had a temporary problem: {said}"
    else:
        kind, text = "permanent", f"refused the post: {said}"
    if row is None and code == 100:
        text = f"{text}: {_short(said)}"
    if row is None and code == 368:
        # Meta's 368 is often about this post (a link, a phrase it flags), not the account.
        text = (f"{text} ({_short(said)}). It is often the content (a link or words Meta "
                "flags) rather than the account: change the post and retry; if every post "
                "is blocked, the account is restricted for a while (see its Support Inbox)")
    return _build(kind, text, platform=platform, label=label, step=step, usage=usage,
                  retry_after=retry_after, code=code)


def _short(said: str) -> str:
    """Meta's text without its "(#100)" prefix and its pointer to the documentation."""
    for noise in _NOISE:
        said = noise.sub("", said)
    return said.rstrip(". ") or "no details"


def _named(said: str, permissions: str) -> str:
    """The permissions Meta's text names, else the platform's own list."""
    return ", ".join(sorted(set(_PERMISSION_NAME.findall(said)))) or permissions


def _refused_access(said: str, *, platform: str, label: str,
                    permissions: str) -> PublishError:
    if _NOT_BUSINESS.search(said):
        # Reconnecting cannot change what kind of account it is: say what can.
        return PermanentError(f"{platform} publishes only from professional accounts, and "
                              f"this one is a personal account. In the Instagram app, switch "
                              f"it to a Business or Creator account (Settings, Account type "
                              f"and tools) linked to the Facebook Page, then retry the post "
                              f"(code {label}).", code=label)
    return PermanentError(f"{platform} refused the call: the app lacks a permission "
                          f"({_short(said)}). Reconnect the account and grant "
                          f"{_named(said, permissions)} (code {label}).", code=label)


def _build(kind: str, text: str, *, platform: str, label: str, step: Step,
           usage: Usage | None, retry_after: float | None, code: int | None) -> PublishError:
    message = f"{platform} {text} (code {label})."
    if kind == "server":
        if step == "commit":
            # The error may come after the post was created: only a look can tell.
            return OutcomeUnknownError(f"{platform} {text} during the publishing call; the "
                                       f"post may or may not be out (code {label}).",
                                       code=label, unreachable=True)
        return TransientError(message, code=label, retry_after=retry_after, unreachable=True)
    if kind == "retry":
        return TransientError(message, code=label, retry_after=retry_after or 60)
    if kind == "new":
        return NeedsNewContainer(message, code=label, retry_after=retry_after)
    if kind == "wait":
        return ContainerNotReady(message, code=label, retry_after=retry_after or 60)
    if kind == "quota":
        # Rolling 24 h window: the next attempt's quota read computes a precise wait.
        return RateLimitedError(message, code=label, retry_after=retry_after or QUOTA_WAIT)
    if kind == "throttle":
        wait = (usage.regain_seconds if usage and usage.regain_seconds else None) \
            or retry_after or (QUOTA_WAIT if code == 341 else DEFAULT_THROTTLE_WAIT)
        return RateLimitedError(f"{platform} {text}; the account waits about "
                                f"{max(1, round(wait / 60))} min (code {label}).",
                                code=label, retry_after=wait)
    return PermanentError(message, code=label)
