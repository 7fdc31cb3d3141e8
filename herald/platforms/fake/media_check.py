"""Fetching media URLs the way Meta does, and judging what comes back.

Meta downloads `image_url`/`video_url`/`url` itself, so a post can fail on a URL that is
private, slow or serving the wrong bytes. When FakeConfig.fetch_media is on the fake does
the same, which lets tests catch media problems at the right step.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, replace

import httpx
from PIL import Image

from herald.media.fetch import FetchRules, MediaURLError, RemoteTooLargeError, SafeFetcher
from herald.platforms.fake.state import FakeState

#: Instagram's limit; the largest any fake endpoint accepts, so reads stop there.
MAX_IMAGE_BYTES = 8 * 1024 * 1024
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name: JPEG, PNG, GIF, …
    width: int
    height: int
    size: int

    @property
    def aspect(self) -> float:
        return self.width / self.height


class MediaProblem(Exception):
    """The media at a URL is unusable; `kind` is unreachable, too_large or format."""

    def __init__(self, kind: str, url: str) -> None:
        super().__init__(f"{kind}: {url}")
        self.kind = kind
        self.url = url


def inspect_image(data: bytes) -> ImageInfo | None:
    """Format and size from the bytes themselves (never the file name or Content-Type)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height) = image.format, image.size
    except Exception:  # Pillow raises a zoo of errors on junk; all mean "not an image".
        return None
    if not fmt or width <= 0 or height <= 0:
        return None
    return ImageInfo(format=fmt, width=width, height=height, size=len(data))


class MediaFetcher:
    """Downloads media with one shared httpx client; the transport is injectable for tests.

    With `rules` (the sandbox inside Herald) every fetch goes through Herald's safe
    fetcher: a user must not turn the sandbox into a way to reach loopback or private
    addresses (a port scanner) that Herald's own fetching refuses.
    """

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None,
                 rules: FetchRules | None = None) -> None:
        self._transport = transport
        self._rules = rules
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> httpx.AsyncClient:
        # The app may be served by more than one event loop over its life (tests start and
        # stop servers); an httpx client must stay on the loop that created it.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(transport=self._transport, follow_redirects=True)
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None

    async def image(self, state: FakeState, url: str) -> ImageInfo:
        """Download and identify an image; raises MediaProblem."""
        cached = _cached(state, "image", url)
        if isinstance(cached, ImageInfo):
            return cached
        data = await self._download(state, url)
        info = inspect_image(data)
        if info is None:
            raise MediaProblem("format", url)
        _remember(state, "image", url, info)
        return info

    async def reachable(self, state: FakeState, url: str) -> bool:
        """Whether the URL answers with a success status (the body is not read)."""
        if _cached(state, "reachable", url):
            return True
        try:
            if self._rules is not None:
                ok = await self._safe(state).status(url) < 400
            else:
                async with self.client().stream(
                    "GET", url, timeout=state.config.fetch_timeout,
                    headers={"Range": "bytes=0-1023"}
                ) as response:
                    ok = response.status_code < 400
        except (httpx.HTTPError, httpx.InvalidURL, MediaURLError):
            return False
        if ok:
            _remember(state, "reachable", url, True)
        return ok

    def _safe(self, state: FakeState) -> SafeFetcher:
        assert self._rules is not None
        return SafeFetcher(self.client(), replace(
            self._rules, max_bytes=min(self._rules.max_bytes, MAX_IMAGE_BYTES),
            timeout=min(self._rules.timeout, state.config.fetch_timeout)))

    async def _download(self, state: FakeState, url: str) -> bytes:
        if self._rules is not None:
            try:
                return await self._safe(state).fetch(url)
            except RemoteTooLargeError:
                raise MediaProblem("too_large", url) from None
            except MediaURLError:
                raise MediaProblem("unreachable", url) from None
        buffer = bytearray()
        try:
            async with self.client().stream(
                "GET", url, timeout=state.config.fetch_timeout
            ) as response:
                if response.status_code >= 400:
                    raise MediaProblem("unreachable", url)
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > MAX_IMAGE_BYTES:
                    raise MediaProblem("too_large", url)
                async for chunk in response.aiter_bytes():
                    buffer += chunk
                    if len(buffer) > MAX_IMAGE_BYTES:
                        raise MediaProblem("too_large", url)
        except (httpx.HTTPError, httpx.InvalidURL):
            raise MediaProblem("unreachable", url) from None
        return bytes(buffer)


def _cached(state: FakeState, kind: str, url: str) -> object:
    with state.lock:
        return state.data.media_checks.get((kind, url))


def _remember(state: FakeState, kind: str, url: str, value: object) -> None:
    with state.lock:
        checks = state.data.media_checks
        if len(checks) >= _CACHE_SIZE:
            del checks[next(iter(checks))]
        checks[(kind, url)] = value
