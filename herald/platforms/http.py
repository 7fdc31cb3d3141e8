"""HTTP helpers every platform client shares: transport failures mapped, media downloads,
bounded polls, and lenient readers for the JSON platforms send back.

The mapping of httpx transport failures lives here once, so that "did the commit go out?"
is decided in exactly one place for every platform.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, Any, Literal

import httpx

from herald.media.fetch import (
    FetchFailedError,
    FetchTimeoutError,
    HostNotFoundError,
    MediaURLError,
    RemoteStatusError,
    RemoteTooLargeError,
    SafeFetcher,
)
from herald.platforms.base import OutcomeUnknownError, PermanentError, PublishError, TransientError

#: prepare = idempotent writes, read = polls and look-ups, commit = the one call that posts.
Step = Literal["prepare", "read", "commit"]

SPOOL_BYTES = 8 * 1024 * 1024  # larger media is spooled to disk, not held in memory


def transport_error(exc: httpx.TransportError, *, platform: str, commit: bool) -> PublishError:
    """Map an httpx transport failure: on a commit it may have gone out, elsewhere retry."""
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    code = "timeout" if isinstance(exc, httpx.TimeoutException) else "network"
    # Connect-phase failures mean the request never left: safe to retry even a commit.
    not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if commit and not not_sent:
        return OutcomeUnknownError(f"{platform} did not answer the publishing call ({what}: "
                                   f"{type(exc).__name__}); the post may or may not be out.",
                                   code=code, unreachable=True)
    return TransientError(f"Could not reach {platform} ({what}: {type(exc).__name__}).",
                          code=code, unreachable=True)


async def download(fetcher: SafeFetcher, url: str) -> IO[bytes]:
    """Fetch media from its URL (no platform token: the host is not the platform).

    Through the safe fetcher: the URL was checked when the post was scheduled, but its
    host may answer differently now (a redirect to 169.254.169.254, a larger file).
    """
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    try:
        await fetcher.fetch_into(url, spool)
    except BaseException as exc:
        spool.close()
        if isinstance(exc, MediaURLError):
            raise media_error(exc, url) from exc
        raise
    spool.seek(0)
    return spool


def media_error(exc: MediaURLError, url: str) -> PublishError:
    """A failed media fetch as a publishing error: retried only when it may pass later."""
    message = f"The media at {url} could not be fetched: {exc}"
    if isinstance(exc, RemoteStatusError):
        status = exc.status_code
        retry = status in (408, 429) or status >= 500
    else:
        # A private address, a bad URL or a file over the cap stays so; a timeout, a
        # refused connection or an unknown host (DNS) may not.
        retry = isinstance(exc, FetchTimeoutError | HostNotFoundError) or (
            isinstance(exc, FetchFailedError) and not isinstance(exc, RemoteTooLargeError))
    return (TransientError if retry else PermanentError)(message, code="media_fetch")


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
