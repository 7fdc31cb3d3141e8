"""Which publisher serves which account in a running Herald."""

from __future__ import annotations

import os
from dataclasses import replace

import httpx

from herald.config import Settings
from herald.platforms.base import (
    Publisher,
    PublisherRegistry,
    PublishJob,
    PublishResult,
    Reconciler,
)
from herald.platforms.facebook import FacebookPublisher
from herald.platforms.instagram import InstagramPublisher
from herald.platforms.linkedin import LinkedInPublisher
from herald.platforms.transport import PlatformTransport

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
    if _proxied():
        # httpx applies HTTP(S)_PROXY / ALL_PROXY only with its own transports.
        return httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections,
            keepalive_expiry=KEEPALIVE_EXPIRY))
    return httpx.AsyncClient(timeout=timeout,
                             transport=PlatformTransport(connections, KEEPALIVE_EXPIRY))


def _proxied() -> bool:
    return any(os.environ.get(name) or os.environ.get(name.lower())
               for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"))


def _publishers(client: httpx.AsyncClient, graph_url: str, graph_version: str,
                linkedin_url: str, linkedin_version: str, *, quick: bool = False
                ) -> dict[str, Publisher]:
    # The sandbox finishes containers and videos at once; real platforms take minutes, and
    # Meta asks for polls no more often than about once a minute after the first ones.
    if quick:
        return {
            "instagram": InstagramPublisher(client, base_url=graph_url, version=graph_version,
                                            poll_interval=0.2, max_poll_interval=1.0),
            "facebook": FacebookPublisher(client, base_url=graph_url, version=graph_version),
            "linkedin": LinkedInPublisher(client, base_url=linkedin_url,
                                          version=linkedin_version, poll_interval=0.2,
                                          max_poll_interval=1.0),
        }
    return {
        "instagram": InstagramPublisher(client, base_url=graph_url, version=graph_version),
        "facebook": FacebookPublisher(client, base_url=graph_url, version=graph_version),
        "linkedin": LinkedInPublisher(client, base_url=linkedin_url, version=linkedin_version),
    }


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


def build_registry(settings: Settings, client: httpx.AsyncClient, *,
                   sandbox: bool = False, quick: bool = False) -> PublisherRegistry:
    """The real clients; with `sandbox`, sandbox accounts go to the fake mounted in-app.

    `quick` polls containers and videos every fraction of a second: for tests and
    benchmarks against the fake, never for the real platforms.
    """
    real = _publishers(client, settings.graph_api_url, settings.graph_api_version,
                       settings.linkedin_api_url, settings.linkedin_version, quick=quick)
    fake: dict[str, Publisher] = {}
    if sandbox:
        base = settings.public_url + SANDBOX_PATH
        fake = _publishers(client, base + "/graph", settings.graph_api_version,
                           base + "/linkedin", settings.linkedin_version, quick=True)
    page = settings.public_url + SANDBOX_PATH + "/"
    return PublisherRegistry({
        name: Routed(name, publisher, fake.get(name), page) for name, publisher in real.items()
    })
