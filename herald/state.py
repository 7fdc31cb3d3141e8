"""What one running Herald holds: settings, database, cipher, publishers, wake-up hook."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from herald.config import Settings
from herald.crypto import TokenCipher
from herald.db import Database
from herald.inspection import MediaInspector, build_store
from herald.media import MediaStore
from herald.platforms.base import PublisherRegistry
from herald.platforms.registry import build_registry, http_client
from herald.queue import Queue
from herald.sandbox import Sandbox
from herald.services import Context, PostChecks, QueueSignal, unit_of_work
from herald.tokens import TokenRefresher
from herald.worker import Wakeup, Worker


@dataclass
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
    refresher: TokenRefresher | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Herald:
        """A Herald with its database, media store and scheduling-time validation."""
        db = kwargs.pop("db", None) or Database.from_settings(settings)
        kwargs.setdefault("media_store", build_store(settings))
        kwargs.setdefault("checks", MediaInspector(settings))
        return cls(settings=settings, db=db, cipher=TokenCipher(settings.resolved_secret_key()),
                   **kwargs)

    def queue(self) -> Queue:
        s = self.settings
        return Queue(self.db.engine, lease_seconds=s.lease_seconds,
                     retry_base_seconds=s.retry_base_seconds,
                     retry_max_seconds=s.retry_max_seconds,
                     platform_caps=s.platform_concurrency)

    def context(self, company_id: str, *, actor: str | None = None) -> Context:
        return Context(company_id=company_id, cipher=self.cipher,
                       max_attempts=self.settings.max_attempts, actor=actor,
                       checks=self.checks,
                       sandbox=self.sandbox)

    def unit_of_work(self) -> AbstractContextManager[Session]:
        """A transaction for a use case that writes: commits, then wakes the worker."""
        return unit_of_work(self.db, self.queue_changed)

    def use_platforms(self, *, sandbox: bool = False, quick: bool = False) -> None:
        """Publish through the real clients (and, with `sandbox`, the in-app sandbox)."""
        self.http = http_client(self.settings)
        if sandbox:
            self.sandbox = Sandbox()
            self.sandbox.load(self.db, self.cipher)
        self.registry = build_registry(self.settings, self.http, sandbox=sandbox, quick=quick)
        s = self.settings
        secret = s.linkedin_client_secret
        self.refresher = TokenRefresher(
            self.db.engine, self.cipher, self.http, token_url=s.linkedin_token_url,
            client_id=s.linkedin_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            ahead=timedelta(seconds=s.token_refresh_ahead_seconds))

    def build_worker(self, *, worker_id: str | None = None, wakeup: Wakeup | None = None,
                     **overrides: Any) -> Worker:
        """A worker with this Herald's settings (overrides win), database and publishers."""
        s = self.settings
        options: dict[str, Any] = dict(
            concurrency=s.worker_concurrency, batch_size=s.worker_batch_size,
            poll_interval=s.poll_interval, rescue_interval=s.rescue_interval,
            shutdown_grace=s.shutdown_grace,
        )
        options.update(overrides)
        return Worker(db=self.db, queue=self.queue(), registry=self.registry,
                      cipher=self.cipher, worker_id=worker_id, wakeup=wakeup,
                      refresher=self.refresher, **options)

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()
