"""A Mastodon instance's own limits (GET /api/v2/instance), cached per server URL.

Every instance sets its own: mastodon.social allows 500 characters and 4 media, others
allow 5,000 characters or more. Herald reads them from the instance (its
`configuration.statuses` and `configuration.media_attachments`,
docs.joinmastodon.org/entities/Instance/) rather than hard-coding them, keeps them for an
hour per server, and uses them when a post is scheduled (rules.py), on the compose page
and when it publishes (client.py).

The cache is per process: the API fills it when an account is added (check_account), for
every account's instance when it starts, and in the background when a post's check finds
it missing or stale (ensure: never waiting, since checks run inside a transaction); the
worker fills it when it publishes. An instance never asked (or that did not answer) gets
Mastodon's defaults, DEFAULT below.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

#: How long an instance's limits are trusted before they are read again.
TTL_SECONDS = 3600.0
#: Seconds to wait for an instance when validating a post (the request waits on it).
SYNC_TIMEOUT = 5.0


@dataclass(frozen=True)
class InstanceLimits:
    """What one instance accepts in a status."""

    max_characters: int = 500
    max_media: int = 4
    #: Every URL counts as this many characters, whatever its length.
    chars_per_url: int = 23
    image_size_limit: int = 16 * 1024 * 1024
    video_size_limit: int = 99 * 1024 * 1024
    #: None: not said; Mastodon's own list is assumed (IMAGE_MIMES and VIDEO_MIMES in rules).
    mime_types: frozenset[str] | None = None
    #: Where the figures came from: "instance" (asked) or "default".
    source: str = "default"


#: Mastodon's defaults (app/models/status.rb MAX_CHARS 500, MediaAttachment limits): what
#: an instance that was not asked is assumed to allow.
DEFAULT = InstanceLimits()


def _int(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else default


def parse(body: Mapping[str, Any]) -> InstanceLimits:
    """The limits in a /api/v2/instance answer (missing figures: Mastodon's defaults)."""
    config = body.get("configuration")
    config = config if isinstance(config, dict) else {}
    statuses = config.get("statuses")
    statuses = statuses if isinstance(statuses, dict) else {}
    media = config.get("media_attachments")
    media = media if isinstance(media, dict) else {}
    mimes = media.get("supported_mime_types")
    return InstanceLimits(
        max_characters=_int(statuses, "max_characters", DEFAULT.max_characters),
        max_media=_int(statuses, "max_media_attachments", DEFAULT.max_media),
        chars_per_url=_int(statuses, "characters_reserved_per_url", DEFAULT.chars_per_url),
        image_size_limit=_int(media, "image_size_limit", DEFAULT.image_size_limit),
        video_size_limit=_int(media, "video_size_limit", DEFAULT.video_size_limit),
        mime_types=frozenset(str(m) for m in mimes) if isinstance(mimes, list) and mimes
        else None,
        source="instance")


_lock = threading.Lock()
_cache: dict[str, tuple[float, InstanceLimits]] = {}


def _key(server_url: str) -> str:
    return server_url.rstrip("/").lower()


#: An instance that did not answer is asked again after this long, not on every post.
RETRY_SECONDS = 60.0


def remember(server_url: str, limits: InstanceLimits, ttl: float = TTL_SECONDS) -> None:
    with _lock:
        _cache[_key(server_url)] = (time.monotonic() + ttl, limits)


def _unanswered(server_url: str) -> InstanceLimits:
    limits = cached(server_url)
    remember(server_url, limits, RETRY_SECONDS)
    return limits


def cached(server_url: str | None) -> InstanceLimits:
    """The instance's limits as last read (even if stale), else DEFAULT."""
    if not server_url:
        return DEFAULT
    with _lock:
        entry = _cache.get(_key(server_url))
    return entry[1] if entry else DEFAULT


def fresh(server_url: str) -> InstanceLimits | None:
    """The instance's limits if read within the hour."""
    with _lock:
        entry = _cache.get(_key(server_url))
    return entry[1] if entry and entry[0] > time.monotonic() else None


def forget() -> None:
    """Drop every cached instance (tests)."""
    with _lock:
        _cache.clear()


def url(server_url: str) -> str:
    return f"{server_url.rstrip('/')}/api/v2/instance"


async def fetch(client: httpx.AsyncClient, server_url: str) -> InstanceLimits:
    """The instance's limits, from the cache when read within the hour, else asked.

    An instance that does not answer keeps what was last read (or DEFAULT): its limits
    are a check, never a reason not to publish.
    """
    found = fresh(server_url)
    if found is not None:
        return found
    try:
        resp = await client.get(url(server_url))
        body = resp.json() if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return cached(server_url)
    if not isinstance(body, dict):
        return cached(server_url)
    limits = parse(body)
    remember(server_url, limits)
    return limits


def refresh_sync(server_url: str) -> InstanceLimits:
    """fetch(), blocking: for the API's validation of a post, which runs in a thread."""
    found = fresh(server_url)
    if found is not None:
        return found
    try:
        resp = httpx.get(url(server_url), timeout=SYNC_TIMEOUT, follow_redirects=False)
        body = resp.json() if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return _unanswered(server_url)
    if not isinstance(body, dict):
        return _unanswered(server_url)
    limits = parse(body)
    remember(server_url, limits)
    return limits


_refreshing: set[str] = set()


def ensure(server_url: str) -> InstanceLimits:
    """The limits for `server_url` as known now, never waiting on the instance (this runs
    while a post is validated, inside the API's transaction): an instance never read, or
    read over an hour ago, is read in the background, and its last figures (or DEFAULT)
    serve meanwhile. Adding an account reads them at once (check_account), and the API
    reads every account's instance when it starts (registry.warm_server_limits)."""
    key = _key(server_url)
    with _lock:
        entry = _cache.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        known = entry[1] if entry is not None else DEFAULT
        if key in _refreshing:
            return known
        _refreshing.add(key)

    def refresh() -> None:
        try:
            refresh_sync(server_url)
        finally:
            with _lock:
                _refreshing.discard(key)

    threading.Thread(target=refresh, name="mastodon-limits", daemon=True).start()
    return known
