"""Scheduling-time checks: what each media URL holds, then the platform's rules.

A user learns that an image is too large when they schedule the post, not at 9 a.m.
when the platform refuses it. Files in Herald's own local store are read from disk;
anything else is fetched (bounded in size and time, private addresses refused).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from herald.config import Settings
from herald.media.fetch import FetchRules, MediaURLError, SafeFetcher
from herald.media.fetch_slots import FetchSlots
from herald.media.probing import MediaError, MediaInfo, probe
from herald.validation import validate_post

#: Remote media may change behind its URL; a short memory spares refetching the same file
#: for each account of one post without trusting it for long.
REMOTE_TTL = 600.0


@dataclass(frozen=True)
class InspectedMedia:
    """What each media URL holds, or why it could not be read (a message), by URL."""

    found: Mapping[str, MediaInfo | str]

    def covers(self, media: Sequence[Mapping[str, Any]]) -> bool:
        return all(item["url"] in self.found for item in media)


class MediaInspector:
    """Probes media URLs (with a small cache) and validates posts against platform rules.

    `inspect` may fetch and so runs before any database transaction begins; `check` is
    pure and may run inside one.
    """

    def __init__(self, settings: Settings, *, cache_size: int = 1024) -> None:
        self.local_prefix = f"{settings.public_url}/media/"
        self.media_dir = Path(settings.media_dir)
        self.rules = FetchRules.from_settings(settings)
        self.cache_size = cache_size
        self.slots = FetchSlots(total=settings.media_fetch_concurrency,
                                per_company=settings.media_fetch_per_company)
        self._cache: OrderedDict[str, tuple[float, MediaInfo]] = OrderedDict()
        self._lock = threading.Lock()

    def validate(self, account: Any, payload: dict[str, Any]) -> list[str]:
        return self.check(account, payload, self.inspect(payload["media"]))

    def inspect(self, media: Sequence[Mapping[str, Any]], *,
                company_id: str | None = None) -> InspectedMedia:
        """Probe every media URL, fetching what is neither cached nor in Herald's store.

        The fetches of one request run at once, in one slot of `slots` (FetchesBusy, a
        429 or 503, when none is free), so a request waits at most one fetch deadline.
        """
        found: dict[str, MediaInfo | str] = {}
        remote: list[str] = []
        for item in media:
            url = item["url"]
            if url in found or url in remote:
                continue
            cached = self._cached(url)
            if cached is not None:
                found[url] = cached
            elif url.startswith(self.local_prefix):
                found[url] = self._probed(url, None)
            else:
                remote.append(url)
        if remote:
            with self.slots.take(company_id):
                fetched = self._fetch_all(remote)
            for url in remote:
                found[url] = self._probed(url, fetched[url])
        return InspectedMedia(found)

    def _probed(self, url: str, fetched: bytes | MediaURLError | None) -> MediaInfo | str:
        """What `url` holds, or why it cannot be used (a message)."""
        if isinstance(fetched, MediaURLError):
            return str(fetched)
        try:
            return self.probe(url, fetched)
        except (MediaURLError, MediaError) as exc:
            return str(exc)

    def check(self, account: Any, payload: dict[str, Any],
              inspected: InspectedMedia) -> list[str]:
        """The platform's rules for this post, given its media as `inspect` found it."""
        media: Sequence[dict[str, Any]] = payload["media"]
        probes: list[MediaInfo | None] = []
        problems: list[str] = []
        for number, item in enumerate(media, start=1):
            info = inspected.found[item["url"]]
            if isinstance(info, str):
                problems.append(f"Media {number} ({item['url']}): {info}")
            else:
                probes.append(info)
        if problems:
            return problems
        server_url = getattr(account, "server_url", None)
        if server_url and not getattr(account, "sandbox", False):
            from herald.platforms.registry import find

            spec = find(account.platform)
            if spec is not None and spec.server_limits is not None:
                spec.server_limits(server_url)
        return validate_post(account.platform, payload["post_type"], payload["caption"],
                             list(media), payload["options"], probes=probes,
                             server_url=server_url)

    def probe(self, url: str, fetched: bytes | None = None) -> MediaInfo:
        """What `url` holds (`fetched`: its bytes, already downloaded)."""
        cached = self._cached(url)
        if cached is not None:
            return cached
        local = url.startswith(self.local_prefix)
        if fetched is None:
            got = self._local_bytes(url) if local else self._fetch_all([url])[url]
            if isinstance(got, MediaURLError):
                raise got
            fetched = got
        info = probe(fetched, filename=url.rsplit("/", 1)[-1])
        with self._lock:
            # Local names are content hashes: the same name is the same bytes forever.
            self._cache[url] = (float("inf") if local else time.monotonic() + REMOTE_TTL, info)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return info

    def _cached(self, url: str) -> MediaInfo | None:
        with self._lock:
            entry = self._cache.get(url)
            if entry is None or entry[0] < time.monotonic():
                return None
            self._cache.move_to_end(url)
            return entry[1]

    def _local_bytes(self, url: str) -> bytes:
        name = url[len(self.local_prefix):]
        path = self.media_dir / Path(name).name
        if "/" in name or not path.is_file():
            raise MediaError("There is no such file in Herald's media store; upload it again.")
        return path.read_bytes()

    def _fetch_all(self, urls: Sequence[str]) -> dict[str, bytes | MediaURLError]:
        """Each URL's bytes or why not, fetched at once (each within the fetch deadline)."""

        async def fetch() -> list[bytes | BaseException]:
            async with httpx.AsyncClient() as client:
                fetcher = SafeFetcher(client, self.rules)
                return await asyncio.gather(*(fetcher.fetch(u) for u in urls),
                                            return_exceptions=True)

        # Request handlers run in a worker thread with no event loop of their own.
        results = asyncio.run(fetch())
        out: dict[str, bytes | MediaURLError] = {}
        for url, result in zip(urls, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, MediaURLError):
                raise result
            out[url] = result
        return out
