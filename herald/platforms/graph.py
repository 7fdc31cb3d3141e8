"""Shared Graph API bits for the Facebook and Instagram clients.

One request helper (token in a header, usage headers read, errors mapped), the one mapping
of the Graph error envelope to Herald's hierarchy, and the mapping of httpx transport
failures, which the LinkedIn client shares so that "did the commit go out?" is decided in
exactly one place.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Literal

import httpx

from herald.platforms.base import (
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    PublishError,
    PublishResult,
    RateLimitedError,
    TransientError,
)

#: prepare = idempotent writes, read = polls and look-ups, commit = the one call that posts.
Step = Literal["prepare", "read", "commit"]

USAGE_ATTR = "usage"
DEFAULT_THROTTLE_WAIT = 900.0
QUOTA_WAIT = 3600.0
SPOOL_BYTES = 8 * 1024 * 1024  # larger media is spooled to disk, not held in memory
#: Pauses before a read or an idempotent write is sent again within one attempt after a
#: transient error (code 1/2, a 5xx, a dropped connection): Meta's advice for those is to
#: retry, and a quick retry costs far less than a new attempt with its backoff.
QUICK_RETRIES = (0.2, 1.0)


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
    368: ("permanent", "has temporarily blocked the account from posting for policy reasons"),
    506: ("permanent", "refused the post as a duplicate of the previous one"),
    100: ("permanent", "refused a parameter"),
}
_REAUTH_REASONS = {
    458: "the app is no longer installed for the user", 460: "the password was changed",
    459: "the user must pass a security checkpoint on Facebook", 467: "the token is invalid",
    463: "the token has expired", 464: "the user has not confirmed the account",
    492: "the user no longer has a role on the Page"}
_PERMISSIONS = {
    "Instagram": "instagram_basic, instagram_content_publish and pages_read_engagement",
    "Facebook": "pages_manage_posts, pages_read_engagement and pages_show_list "
                "(publish_video for videos)",
}
_PERMISSION_NAME = re.compile(r"\b(?:pages|instagram|publish|business)_[a-z_]+\b")


def graph_error(error: Mapping[str, Any], *, platform: str, step: Step, status: int = 400,
                usage: Usage | None = None, retry_after: float | None = None) -> PublishError:
    """Map one Graph error envelope (its "error" object) to Herald's hierarchy."""
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
        perms = ", ".join(sorted(set(_PERMISSION_NAME.findall(said)))) or _PERMISSIONS.get(
            platform, "the publishing permissions")
        return PermanentError(f"{platform} refused the call: the app lacks a permission "
                              f"({said}). Reconnect the account and grant {perms} "
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
    if row is None and code in (100, 368):
        text = f"{text}: {said}"
    return _build(kind, text, platform=platform, label=label, step=step, usage=usage,
                  retry_after=retry_after, code=code)


def _build(kind: str, text: str, *, platform: str, label: str, step: Step,
           usage: Usage | None, retry_after: float | None, code: int | None) -> PublishError:
    message = f"{platform} {text} (code {label})."
    if kind == "server":
        if step == "commit":
            # The error may come after the post was created: only a look can tell.
            return OutcomeUnknownError(f"{platform} {text} during the publishing call; the "
                                       f"post may or may not be out (code {label}).",
                                       code=label)
        return TransientError(message, code=label, retry_after=retry_after)
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


def transport_error(exc: httpx.TransportError, *, platform: str, commit: bool) -> PublishError:
    """Map an httpx transport failure: on a commit it may have gone out, elsewhere retry."""
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    code = "timeout" if isinstance(exc, httpx.TimeoutException) else "network"
    # Connect-phase failures mean the request never left: safe to retry even a commit.
    not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if commit and not not_sent:
        return OutcomeUnknownError(f"{platform} did not answer the publishing call ({what}: "
                                   f"{type(exc).__name__}); the post may or may not be out.",
                                   code=code)
    return TransientError(f"Could not reach {platform} ({what}: {type(exc).__name__}).",
                          code=code)


@dataclass
class Usage:
    """The highest Meta usage percentage seen, and how long Meta says to stay away."""

    max_percent: float = 0.0
    regain_seconds: float = 0.0

    def update(self, headers: httpx.Headers) -> None:
        for name in ("x-app-usage", "x-page-usage"):
            data = parse_json(headers.get(name))
            if isinstance(data, dict):
                self._seen(data)
        buc = parse_json(headers.get("x-business-use-case-usage"))
        for entries in buc.values() if isinstance(buc, dict) else ():
            for entry in entries if isinstance(entries, list) else ():
                if isinstance(entry, dict):
                    self._seen(entry)
                    minutes = to_float(entry.get("estimated_time_to_regain_access")) or 0.0
                    self.regain_seconds = max(self.regain_seconds, minutes * 60)

    def _seen(self, data: Mapping[str, Any]) -> None:
        for key in ("call_count", "total_cputime", "total_time"):
            self.max_percent = max(self.max_percent, to_float(data.get(key)) or 0.0)

    def as_dict(self) -> dict[str, float]:
        return {"max_percent": self.max_percent, "regain_seconds": self.regain_seconds}


def attach_usage(exc: PublishError, usage: Usage) -> None:
    """Put the usage reading on an error, as `exc.usage` (a dict like result.extra["usage"])."""
    setattr(exc, USAGE_ATTR, usage.as_dict())


def usage_percent(outcome: PublishResult | BaseException) -> float | None:
    """The worker's one call: max usage % seen by the attempt (back off above 90)."""
    usage = outcome.extra.get("usage") if isinstance(outcome, PublishResult) \
        else getattr(outcome, USAGE_ATTR, None)
    return to_float(usage.get("max_percent")) if isinstance(usage, dict) else None


class GraphSession:
    """One job's calls to the Graph API with one token."""

    def __init__(self, client: httpx.AsyncClient, *, base_url: str, version: str, token: str,
                 platform: str) -> None:
        version = version if version.startswith("v") else f"v{version}"
        self._client, self._root = client, f"{base_url.rstrip('/')}/{version}"
        self._token, self.platform = token, platform
        self.usage = Usage()

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *,
                  step: Step = "read") -> dict[str, Any]:
        return await self._send("GET", path, step=step, params=params)

    async def post(self, path: str, body: Mapping[str, Any], *, step: Step) -> dict[str, Any]:
        return await self._send("POST", path, step=step, body=body)

    async def _send(self, method: str, path: str, *, step: Step,
                    params: Mapping[str, Any] | None = None,
                    body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        delays = iter(QUICK_RETRIES if step != "commit" else ())
        while True:
            try:
                return await self._send_once(method, path, step=step, params=params,
                                             body=body)
            except TransientError as exc:
                # Only a plain blip with no wait asked for; never the commit, whose error
                # may come after the post was made (that is reconciliation's job).
                delay = next(delays, None) if type(exc) is TransientError \
                    and exc.retry_after is None else None
                if delay is None:
                    raise
            await asyncio.sleep(delay)

    async def _send_once(self, method: str, path: str, *, step: Step,
                         params: Mapping[str, Any] | None = None,
                         body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        # Bearer header, never ?access_token=: URLs end up in httpx's and proxies' logs.
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            resp = await self._client.request(method, f"{self._root}/{path.lstrip('/')}",
                                              params=params, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise transport_error(exc, platform=self.platform, commit=step == "commit") from exc
        self.usage.update(resp.headers)
        data = parse_json(resp.text)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            error = {k: self.scrub(v) if isinstance(v, str) else v for k, v in error.items()}
        elif resp.status_code >= 400 or not isinstance(data, dict):
            # No envelope (a gateway's page, an empty body): judged by the HTTP status; a 2xx
            # we cannot read was still processed, which on a commit means "maybe out".
            error = {"message": f"HTTP {resp.status_code} without a readable answer",
                     "is_transient": resp.status_code < 400}
        else:
            return data
        raise graph_error(error, platform=self.platform, step=step, status=resp.status_code,
                          usage=self.usage, retry_after=to_float(resp.headers.get("retry-after")))

    def scrub(self, text: str) -> str:
        """Remove the token from text the platform echoed back."""
        return text.replace(self._token, "[token]") if self._token else text


async def download(client: httpx.AsyncClient, url: str) -> IO[bytes]:
    """Fetch media from its public URL (no platform token: the host is not the platform)."""
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    try:
        async with client.stream("GET", url, follow_redirects=True) as resp:  # CDNs redirect
            if resp.status_code >= 400:
                retry = resp.status_code in (408, 429) or resp.status_code >= 500
                raise (TransientError if retry else PermanentError)(
                    f"The media at {url} could not be fetched (HTTP {resp.status_code}).",
                    code="media_fetch")
            async for chunk in resp.aiter_bytes():
                spool.write(chunk)
    except BaseException as exc:
        spool.close()
        if isinstance(exc, httpx.TransportError):
            raise transport_error(exc, platform="the media host", commit=False) from exc
        raise
    spool.seek(0)
    return spool


def poll_delays(first: float, factor: float, cap: float) -> Iterator[float]:
    """Sleep lengths for a bounded exponential poll: first, first*factor, … up to cap."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * factor)


def parse_time(value: object) -> datetime | None:
    """Graph's "2026-02-18T12:00:00+0000" (and ISO with a colon)."""
    if not isinstance(value, str):
        return None
    for parse in (datetime.fromisoformat,
                  lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S%z")):
        try:
            parsed = parse(value)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else None
    return None


def find_recent(items: Sequence[Any], *, text_key: str, time_key: str, text: str | None,
                since: datetime, until: datetime, near: datetime) -> dict[str, Any] | None:
    """The item posted in [since, until] with this text (None: any text), nearest `near`."""
    found: list[tuple[float, dict[str, Any]]] = []
    for item in items:
        when = parse_time(item.get(time_key)) if isinstance(item, dict) else None
        if when is None or not since <= when <= until:
            continue
        if text is None or _norm(item.get(text_key)) == _norm(text):
            found.append((abs((when - near).total_seconds()), item))
    return min(found, key=lambda pair: pair[0])[1] if found else None


def covers(items: Sequence[Any], *, time_key: str, since: datetime, limit: int) -> bool:
    """Whether a newest-first page reaches back past `since` (so a miss proves absence)."""
    if len(items) < limit:
        return True
    times = [t for i in items if isinstance(i, dict) and (t := parse_time(i.get(time_key)))]
    return bool(times) and min(times) < since


async def recent(g: GraphSession, path: str, *, fields: str, time_key: str, since: datetime,
                 limit: int, max_pages: int) -> tuple[list[Any], bool]:
    """An edge's items newest first, paged back until past `since` (True) or the cap.

    A busy account can publish more than one page of posts in the minutes that matter;
    only a listing that reaches back past the commit proves a post is absent.
    """
    items: list[Any] = []
    after: str | None = None
    for _ in range(max_pages):
        params: dict[str, Any] = {"fields": fields, "limit": limit}
        if after:
            params["after"] = after
        data = await g.get(path, params)
        chunk = list_at(data, "data")
        items += chunk
        if covers(chunk, time_key=time_key, since=since, limit=limit):
            return items, True
        paging = dict_at(data, "paging")
        after = str(dict_at(paging, "cursors").get("after") or "") or None
        if not paging.get("next") or after is None:
            return items, True  # no older items: the listing is whole
    return items, False


def utcnow() -> datetime:
    return datetime.now(UTC)


def dict_at(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def list_at(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _norm(text: object) -> str:
    return str(text or "").replace("\r\n", "\n").strip()


def parse_json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def json_object(text: str | None) -> dict[str, Any]:
    """A JSON object body, or {} for anything else (empty, a list, HTML)."""
    data = parse_json(text)
    return data if isinstance(data, dict) else {}


def to_int(value: object) -> int | None:
    try:
        return int(value) if isinstance(value, int | str) else None
    except ValueError:
        return None


def to_float(value: object) -> float | None:
    try:
        return float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None
