"""The one list of platforms, what is derived from it, and which publisher serves which
account in a running Herald.

Adding a platform is adding its folder (herald/platforms/<name>/, see
docs/adding-a-platform.md) and one line to SPECS; everything else asks here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace

import httpx

from herald import metrics
from herald.config import Settings
from herald.media.fetch import SafeFetcher
from herald.platforms import (
    bluesky,
    facebook,
    instagram,
    instagram_login,
    linkedin,
    mastodon,
    threads,
)
from herald.platforms.base import (
    Commenter,
    Publisher,
    PublisherRegistry,
    PublishJob,
    PublishResult,
    Reconciler,
)
from herald.platforms.spec import Endpoint, PlatformSpec
from herald.platforms.transport import PlatformClient, PlatformTransport

#: Every platform Herald publishes to, one line each, in the order people read them.
SPECS: tuple[PlatformSpec, ...] = (
    instagram.SPEC,
    instagram_login.SPEC,
    facebook.SPEC,
    linkedin.SPEC,
    bluesky.SPEC,
    threads.SPEC,
    mastodon.SPEC,
)

BY_NAME: Mapping[str, PlatformSpec] = {spec.name: spec for spec in SPECS}
#: Platform names in reading order ("choose instagram, facebook or linkedin").
NAMES: tuple[str, ...] = tuple(BY_NAME)
#: Platform names sorted: the API's enum, the database's values, the forms' options.
PLATFORMS: tuple[str, ...] = tuple(sorted(NAMES))
#: Every post type some platform publishes, in the order the pickers show them.
POST_TYPES: tuple[str, ...] = tuple(dict.fromkeys(t for spec in SPECS for t in spec.post_types))
DISPLAY_NAMES: Mapping[str, str] = {spec.name: spec.display_name for spec in SPECS}
SHORT_NAMES: Mapping[str, str] = {spec.name: spec.short_name for spec in SPECS}
#: What the compose page counts while typing, per platform.
COMPOSE_LIMITS: Mapping[str, Mapping[str, int]] = {
    spec.name: spec.compose_limits for spec in SPECS}


def compose_limits_for(platform: str, server_url: str | None) -> Mapping[str, int]:
    """What the compose page counts for an account: its server's own limits where the
    platform's servers set them (a Mastodon instance), else the platform's."""
    found = BY_NAME.get(platform)
    if found is None:
        return {}
    if server_url and found.server_limits is not None:
        return found.server_limits(server_url)
    return found.compose_limits


def warm_server_limits(servers: Iterable[tuple[str, str]]) -> None:
    """Start reading the own limits of these (platform, server URL)s in the background (the
    API at start-up, so its first checks of their posts have them)."""
    for platform, server_url in servers:
        found = BY_NAME.get(platform)
        if found is not None and found.server_limits is not None:
            found.server_limits(server_url)


def find(platform: str) -> PlatformSpec | None:
    return BY_NAME.get(platform)


def spec(platform: str) -> PlatformSpec:
    """The spec of a platform Herald knows (KeyError otherwise)."""
    return BY_NAME[platform]


def by_display_name(display_name: str) -> PlatformSpec | None:
    """The spec whose display name this is (error messages carry display names)."""
    return next((s for s in SPECS if s.display_name == display_name), None)


def split_post_type(platform: str, post_type: str) -> tuple[str, ...]:
    """The post types one composed post of this type is published as: itself, or several
    posts tracked separately (Instagram's feed_story is a feed post and a story)."""
    found = BY_NAME.get(platform)
    return found.splits.get(post_type, (post_type,)) if found else (post_type,)


def split_types(platform: str) -> dict[str, tuple[str, ...]]:
    """The platform's composed post types and the types each is published as."""
    found = BY_NAME.get(platform)
    return dict(found.splits) if found else {}


def connectable() -> tuple[PlatformSpec, ...]:
    """The platforms with an OAuth connect flow, in reading order."""
    return tuple(s for s in SPECS if s.connect is not None)

#: How long one platform call may take. A commit call cut off from its worker (killed, or
#: its lease lost) may still land this long after it was sent: reconciliation waits it out.
REQUEST_TIMEOUT = 60.0

#: Where the built-in sandbox (the platform fake) is mounted in Herald's own app.
SANDBOX_PATH = "/sandbox"


#: Idle platform connections are closed after this many seconds (see PlatformTransport).
KEEPALIVE_EXPIRY = 4.0


def http_client(settings: Settings) -> httpx.AsyncClient:
    """One client for all platform calls: pooled connections, bounded waits."""
    # A commit that outlives the read timeout becomes "outcome unknown" and is reconciled,
    # so the timeout bounds how long a post can hang, not whether it is posted twice.
    timeout = httpx.Timeout(REQUEST_TIMEOUT, connect=10.0)
    # Every post in flight may hold a connection, plus media downloads beside them.
    connections = settings.worker_concurrency * 2
    hooks = metrics.platform_call_hooks()
    if _proxied():
        # httpx applies HTTP(S)_PROXY / ALL_PROXY only with its own transports.
        return PlatformClient(timeout=timeout, event_hooks=hooks, limits=httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections,
            keepalive_expiry=KEEPALIVE_EXPIRY))
    return PlatformClient(timeout=timeout, event_hooks=hooks,
                          transport=PlatformTransport(connections, KEEPALIVE_EXPIRY))


def fetch_client() -> httpx.AsyncClient:
    """The safe fetcher's client: httpx's own transport, which pins a connection to the
    checked address and still checks TLS against the name (PlatformTransport cannot)."""
    return httpx.AsyncClient(limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY))


def _proxied() -> bool:
    return any(os.environ.get(name) or os.environ.get(name.lower())
               for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"))


class Routed:
    """Sends sandbox accounts' posts to the sandbox and all others to the real platform."""

    def __init__(self, platform: str, real: Publisher, sandbox: Publisher | None,
                 sandbox_page: str = "") -> None:
        self.platform = platform
        self.real = real
        self.sandbox = sandbox
        self.sandbox_page = sandbox_page

    def _for(self, job: PublishJob) -> Publisher:
        if job.account.sandbox:
            if self.sandbox is None:
                from herald.platforms.base import PermanentError

                raise PermanentError("This is a sandbox account, and the sandbox only runs "
                                     "under `herald run`.", code="no_sandbox")
            return self.sandbox
        return self.real

    async def publish(self, job: PublishJob) -> PublishResult:
        result = await self._for(job).publish(job)
        return self._sandboxed(job, result)

    def _sandboxed(self, job: PublishJob, result: PublishResult) -> PublishResult:
        # A sandbox post lives on the sandbox page, not on linkedin.com or instagram.com.
        if job.account.sandbox:
            return replace(result, permalink=f"{self.sandbox_page}?id={result.external_id}")
        return result

    async def reconcile(self, job: PublishJob) -> PublishResult | None:
        publisher = self._for(job)
        if not isinstance(publisher, Reconciler):
            from herald.platforms.base import OutcomeUnknownError

            raise OutcomeUnknownError(f"{self.platform} posts cannot be checked after the fact.")
        result = await publisher.reconcile(job)
        return None if result is None else self._sandboxed(job, result)

    def _commenter(self, job: PublishJob) -> Commenter:
        publisher = self._for(job)
        if not isinstance(publisher, Commenter):
            from herald.platforms.base import PermanentError

            raise PermanentError(f"Herald cannot post first comments on {self.platform}.",
                                 code="no_comments")
        return publisher

    async def comment(self, job: PublishJob, post: PublishResult, text: str) -> str:
        return await self._commenter(job).comment(job, post, text)

    async def find_comment(self, job: PublishJob, post: PublishResult,
                           text: str) -> str | None:
        return await self._commenter(job).find_comment(job, post, text)


def build_registry(settings: Settings, client: httpx.AsyncClient, *, fetcher: SafeFetcher,
                   sandbox: bool = False, quick: bool = False) -> PublisherRegistry:
    """The real clients; with `sandbox`, sandbox accounts go to the fake mounted in-app.

    Media the clients download (users' URLs) goes through `fetcher`, never `client`.

    `quick` polls containers and videos every fraction of a second: for tests and
    benchmarks against the fake, never for the real platforms.
    """
    base = settings.public_url + SANDBOX_PATH
    page = base + "/"
    routed: dict[str, Publisher] = {}
    for each in SPECS:
        real = each.endpoint(settings)
        publisher = each.publisher(client, replace(real, quick=quick), fetcher)
        fake = each.publisher(client, Endpoint(base + each.sandbox_mount, real.version,
                                               quick=True), fetcher) if sandbox else None
        routed[each.name] = Routed(each.name, publisher, fake, page)
    return PublisherRegistry(routed)
