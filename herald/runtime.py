"""The composition root: one running Herald, built whole from settings and then frozen.

A Herald holds the settings, the database, the cipher, the publishers (platform clients or
test doubles), the media store, the scheduling-time checks and the signal that wakes the
workers of this process. Nothing is filled in after construction: `Herald.build` makes
every part first. The registry and the signal are themselves mutable objects (tests
register publishers; an in-process worker listens), the Herald that holds them is not.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from herald import logs
from herald.config import Settings
from herald.crypto import TokenCipher
from herald.db import Database
from herald.events.runner import EventRunner
from herald.events.runner import Options as EventOptions
from herald.media import MediaInspector, MediaStore, build_store
from herald.media.decoding import set_decode_limit
from herald.media.fetch import SafeFetcher
from herald.models import utcnow
from herald.notifications import NOTIFY_MAX_ATTEMPTS
from herald.notifications.digest import make_digests
from herald.notifications.fanout import NotifyPeople
from herald.permissions import Role
from herald.planning.loop import Planner
from herald.platforms import versions
from herald.platforms.base import PublisherRegistry
from herald.platforms.registry import build_registry, fetch_client, http_client
from herald.platforms.registry import spec as registry_spec
from herald.queue import Queue, counts, health
from herald.sandbox import Sandbox
from herald.services import Context, PostChecks, QueueSignal, audit, unit_of_work
from herald.tokens import TokenRefresher, TokenSweep
from herald.worker import Wakeup, Worker, default_worker_id

log = logging.getLogger(__name__)

#: Stands for "build the default" where None means "none" (no checks, no media store).
_DEFAULT: Any = object()


@dataclass(frozen=True)
class Herald:
    settings: Settings
    db: Database
    cipher: TokenCipher
    registry: PublisherRegistry = field(default_factory=PublisherRegistry)
    #: Rung after each unit of work commits (wakes the workers of this process).
    queue_changed: QueueSignal = field(default_factory=QueueSignal)
    checks: PostChecks | None = None
    media_store: MediaStore | None = None
    sandbox: Sandbox | None = None
    #: The platform clients' HTTP client, closed when Herald stops.
    http: httpx.AsyncClient | None = None
    #: Fetches what users' URLs name at publish time (on its own client, closed likewise).
    fetcher: SafeFetcher | None = None
    refresher: TokenRefresher | None = None
    #: What "now" is to the use cases (their Context's clock): the real time, but for
    #: tests that plan across a date of their choosing (a daylight-saving change).
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def build(cls, settings: Settings, *, db: Database | None = None,
              cipher: TokenCipher | None = None, platforms: bool = False,
              sandbox: bool = False, quick: bool = False,
              registry: PublisherRegistry | None = None, checks: PostChecks | None = _DEFAULT,
              media_store: MediaStore | None = _DEFAULT,
              clock: Callable[[], datetime] = utcnow) -> Herald:
        """A Herald with its database, media store and scheduling-time checks.

        `platforms` publishes through the real clients (with `sandbox`, also to the in-app
        sandbox; `quick` shortens their waits, for tests); without it, through `registry`
        (empty unless given).
        """
        # Every entry point builds a Herald (the CLI, `app_from_env` under any ASGI server,
        # tests): from here on no log record of the process carries a secret.
        logs.install()
        # An API version near its sunset is said at start (and by `herald doctor`).
        versions.warn_at_start(settings)
        set_decode_limit(settings.max_concurrent_decodes)
        db = db or Database.from_settings(settings)
        cipher = cipher or TokenCipher(settings.resolved_secret_key(),
                                       settings.resolved_old_secret_keys())
        parts: dict[str, Any] = {"registry": registry or PublisherRegistry()}
        if platforms:
            parts = _platform_parts(settings, db, cipher, sandbox=sandbox, quick=quick)
        return cls(
            settings=settings, db=db, cipher=cipher,
            checks=MediaInspector(settings) if checks is _DEFAULT else checks,
            media_store=build_store(settings) if media_store is _DEFAULT else media_store,
            clock=clock, **parts)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Herald:
        """`build`, by its older name."""
        return cls.build(settings, **options)

    def queue(self) -> Queue:
        s = self.settings
        return Queue(self.db.engine, lease_seconds=s.lease_seconds,
                     retry_base_seconds=s.retry_base_seconds,
                     retry_max_seconds=s.retry_max_seconds,
                     retry_budget_seconds=s.retry_budget_seconds,
                     retry_unreachable_seconds=s.retry_unreachable_seconds,
                     outage=health.Rules(s.outage_failures, s.outage_window_seconds,
                                         s.outage_probe_seconds,
                                         max(s.outage_probe_seconds,
                                             s.outage_probe_max_seconds)),
                     platform_caps=s.platform_concurrency)

    def context(self, company_id: str, *, actor: str | None = None,
                role: Role = Role.OWNER, account_ids: frozenset[str] | None = None
                ) -> Context:
        """A use case's context; without a role, the owner's (the CLI, internal callers)."""
        return Context(company_id=company_id, cipher=self.cipher,
                       max_attempts=self.settings.max_attempts, actor=actor,
                       checks=self.checks, sandbox=self.sandbox, role=role,
                       account_ids=account_ids,
                       series_window_days=self.settings.series_window_days,
                       allow_private_servers=self.settings.allow_private_server_urls,
                       verify_account=verify_account if self.http is not None else None,
                       now=self.clock)

    def planner(self) -> Planner:
        """The planning pass (series expanded, empty slots refilled) with its settings."""
        s = self.settings
        return Planner(self.db, lambda company_id: self.context(company_id, actor="planner"),
                       window=timedelta(days=s.series_window_days),
                       lead=timedelta(minutes=s.evergreen_lead_minutes),
                       gap=timedelta(days=s.evergreen_min_gap_days),
                       changed=self.queue_changed)

    def unit_of_work(self) -> AbstractContextManager[Session]:
        """A transaction for a use case that writes: commits, then wakes the worker."""
        return unit_of_work(self.db, self.queue_changed)

    def build_worker(self, *, worker_id: str | None = None, wakeup: Wakeup | None = None,
                     **overrides: Any) -> Worker:
        """A worker with this Herald's settings (overrides win), database and publishers."""
        s = self.settings
        options: dict[str, Any] = dict(
            concurrency=s.worker_concurrency, batch_size=s.worker_batch_size,
            poll_interval=s.poll_interval, rescue_interval=s.rescue_interval,
            shutdown_grace=s.shutdown_grace, planner=self.planner(),
            planning_interval=s.planning_interval, db_timeout=s.db_timeout,
            listen_url=s.listen_url,
        )
        if s.database_pgbouncer and not s.listen_database_url:
            # LISTEN through a transaction pool hears nothing once its connection goes
            # back to the pool: poll instead.
            log.warning("HERALD_DATABASE_PGBOUNCER is set without HERALD_LISTEN_DATABASE_URL: "
                        "the worker polls every %gs instead of listening for new posts",
                        s.poll_interval)
            options["listen"] = False
        options.update(overrides)
        worker_id = worker_id or default_worker_id()
        sweep = [TokenSweep(self.refresher)] if self.refresher is not None else []
        options.setdefault("sidecars", [self.event_runner(worker_id), *sweep])
        return Worker(db=self.db, queue=self.queue(), registry=self.registry,
                      cipher=self.cipher, worker_id=worker_id, wakeup=wakeup,
                      refresher=self.refresher, **options)

    def event_runner(self, worker_id: str) -> EventRunner:
        """What a worker runs beside its posts: webhooks, notifications, digests."""
        s = self.settings
        people = NotifyPeople(public_url=s.public_url, max_attempts=NOTIFY_MAX_ATTEMPTS)
        digests = functools.partial(make_digests, self.db.engine, public_url=s.public_url,
                                    max_attempts=NOTIFY_MAX_ATTEMPTS)
        purge_audit = audit.Housekeeping(self.db.engine)
        fold_counts = counts.Compaction(self.db.engine)

        def chores(now: datetime) -> int:
            # The audit log's retention (hourly inside) and the kept counts' fold (every
            # minute: a count's read sums the rows appended since) ride the digests'
            # minute check; only the digests' count tells the runner it did something.
            purge_audit(now)
            fold_counts(now)
            return digests(now=now)

        return EventRunner(self.db.engine, self.cipher, worker_id=worker_id,
                           options=EventOptions.from_settings(s), fan_outs=(people,),
                           digests=chores)

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        if self.fetcher is not None:
            await self.fetcher.client.aclose()


def verify_account(platform: str, server_url: str, external_id: str, token: str) -> None:
    """Ask the platform whether it takes these credentials (blocking: from a sync route)."""
    check = registry_spec(platform).check_account
    if check is None:
        return

    async def ask() -> None:
        # A client of its own: the shared one belongs to the event loop of the workers.
        async with httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=10.0)) as client:
            await check(client, server_url, external_id, token)

    asyncio.run(ask())


def _platform_parts(settings: Settings, db: Database, cipher: TokenCipher, *,
                    sandbox: bool, quick: bool) -> dict[str, Any]:
    """The real clients' HTTP client, registry and token refresher (and the sandbox)."""
    http = http_client(settings)
    fetcher = SafeFetcher.from_settings(settings, fetch_client())
    in_app: Sandbox | None = None
    if sandbox:
        in_app = Sandbox(fetcher.rules)
        in_app.load(db, cipher)
    secret = settings.linkedin_client_secret
    refresher = TokenRefresher(
        db.engine, cipher, http, token_url=settings.linkedin_token_url,
        client_id=settings.linkedin_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        ahead=timedelta(seconds=settings.token_refresh_ahead_seconds), settings=settings)
    return {"http": http, "fetcher": fetcher, "sandbox": in_app, "refresher": refresher,
            "registry": build_registry(settings, http, fetcher=fetcher, sandbox=sandbox,
                                       quick=quick)}
