"""Keeping platform tokens fresh: a platform whose spec says how (LinkedIn, Instagram
Login) has its access tokens refreshed before they expire.

Several workers may notice the same expiring token at once. Exactly one refreshes it: the
one whose conditional UPDATE takes `refresh_lock_until` (the same "whoever's UPDATE
matched wins" claim the queue uses); the others wait for its result and read it back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import cast

import httpx
from sqlalchemy import Engine, Table, or_, select, update

from herald.config import Settings
from herald.crypto import TokenCipher
from herald.models import SocialAccount, SocialToken, utcnow
from herald.platforms.base import AccountRef, NeedsReauthError, PublishError, PublishJob
from herald.platforms.registry import SPECS, find
from herald.platforms.spec import RefreshedToken, TokenRefresh

log = logging.getLogger(__name__)

tokens = cast(Table, SocialToken.__table__)

#: How long one worker may hold the refresh before another may try.
LOCK_SECONDS = 60.0
#: How long a worker waits for another's refresh before using what it has.
WAIT_SECONDS = 15.0
#: How often a worker looks for tokens to refresh whose accounts are not posting.
SWEEP_SECONDS = 3600.0


class TokenRefresher:
    """Refreshes tokens close to expiry, one refresh per account at a time.

    The app credentials are LinkedIn's, the one platform whose refresh needs an app; a
    self-refreshing token (Instagram Login's) needs none and goes to its spec's token_url,
    read from `settings`.
    """

    def __init__(self, engine: Engine, cipher: TokenCipher, client: httpx.AsyncClient, *,
                 token_url: str, client_id: str | None, client_secret: str | None,
                 ahead: timedelta, settings: Settings | None = None) -> None:
        self.engine = engine
        self.cipher = cipher
        self.client = client
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.ahead = ahead
        self.settings = settings
        self._locks: dict[str, asyncio.Lock] = {}

    def due(self, token: StoredToken, now: datetime, *, own: bool = False) -> bool:
        """Close to expiry and refreshable: with a refresh token, or `own` (the access
        token refreshes itself)."""
        return ((own or token.refresh_token is not None) and token.expires_at is not None
                and token.expires_at - self.ahead <= now)

    async def fresh(self, job: PublishJob) -> PublishJob:
        """The job with a token good for a while, refreshing it if it is close to expiry."""
        spec = find(job.platform)
        how = spec.refresh if spec else None
        if spec is None or how is None or not self.due(StoredToken.of(job), utcnow(),
                                                       own=how.self_refreshing):
            return job
        if not how.self_refreshing and not (self.client_id and self.client_secret):
            log.warning("the %s token of %s expires at %s and cannot be refreshed: set %s",
                        spec.display_name, job.account.name, job.account.token_expires_at,
                        how.settings_names)
            return job
        lock = self._locks.setdefault(job.account.id, asyncio.Lock())
        async with lock:  # workers of one process queue here, not at the platform
            return await self._refresh(job, how, spec.display_name)

    async def _refresh(self, job: PublishJob, how: TokenRefresh, label: str) -> PublishJob:
        account_id = job.account.id
        stored = await asyncio.to_thread(self._read, account_id)
        if stored is not None and not self.due(stored, utcnow(), own=how.self_refreshing):
            return stored.apply(job)  # someone refreshed it meanwhile
        if not await asyncio.to_thread(self._take_lock, account_id):
            return await self._wait_for_other(job, own=how.self_refreshing)
        try:
            current = stored or StoredToken.of(job)
            # A self-refreshing token is exchanged for itself: no refresh token, no app.
            refresh = current.access_token if how.self_refreshing else current.refresh_token
            token_url = how.token_url(self.settings) if how.token_url is not None and \
                self.settings is not None else self.token_url
            assert refresh is not None
            token_set = await how.refresh(
                self.client, token_url=token_url, client_id=self.client_id or "",
                client_secret=self.client_secret or "", refresh_token=refresh)
        except PublishError as exc:
            await asyncio.to_thread(self._release, account_id)
            expires = job.account.token_expires_at
            if isinstance(exc, NeedsReauthError) or (expires is not None and expires <= utcnow()):
                raise
            # The old token still works: publish with it and refresh another time.
            log.warning("could not refresh the %s token of %s yet: %s", label,
                        job.account.name, exc.message)
            return job
        await asyncio.to_thread(self._store, account_id, token_set)
        log.info("refreshed the %s token of %s (now valid until %s)", label, job.account.name,
                 token_set.expires_at)
        account = replace(job.account, access_token=token_set.access_token,
                          refresh_token=token_set.refresh_token or job.account.refresh_token,
                          token_expires_at=token_set.expires_at)
        return replace(job, account=account)

    async def _wait_for_other(self, job: PublishJob, *, own: bool = False) -> PublishJob:
        deadline = utcnow() + timedelta(seconds=WAIT_SECONDS)
        while utcnow() < deadline:
            await asyncio.sleep(0.5)
            stored = await asyncio.to_thread(self._read, job.account.id)
            if stored is not None and not self.due(stored, utcnow(), own=own):
                return stored.apply(job)
        return job

    async def sweep(self, now: datetime | None = None) -> int:
        """Refresh every due token of an active, refreshable account, posting or not: an
        account that posts nothing for weeks must not let its token lapse (Instagram
        Login's die after 60 days and cannot be revived). How many were refreshed."""
        now = now or utcnow()
        refreshed = 0
        for job in await asyncio.to_thread(self._due_accounts, now):
            try:
                fresh = await self.fresh(job)
            except PublishError as exc:
                log.warning("could not refresh the token of %s: %s", job.account.name,
                            exc.message)
                continue
            refreshed += fresh.account.access_token != job.account.access_token
        return refreshed

    def _due_accounts(self, now: datetime) -> list[PublishJob]:
        refreshing = [s.name for s in SPECS if s.refresh is not None]
        accounts = cast(Table, SocialAccount.__table__)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(accounts.c.id, accounts.c.platform, accounts.c.external_id,
                       accounts.c.name, tokens.c.access_token_enc, tokens.c.refresh_token_enc,
                       tokens.c.expires_at)
                .join(tokens, tokens.c.account_id == accounts.c.id)
                .where(accounts.c.platform.in_(refreshing), accounts.c.state == "active",
                       accounts.c.sandbox.is_(False), tokens.c.expires_at.is_not(None),
                       tokens.c.expires_at <= now + self.ahead)).all()
        jobs = []
        for row in rows:
            try:
                access = self.cipher.decrypt(row.access_token_enc)
                refresh = (self.cipher.decrypt(row.refresh_token_enc)
                           if row.refresh_token_enc else None)
            except ValueError:
                continue  # `herald doctor` names a token the key cannot read
            account = AccountRef(id=row.id, platform=row.platform, external_id=row.external_id,
                                 name=row.name, access_token=access, refresh_token=refresh,
                                 token_expires_at=row.expires_at)
            jobs.append(PublishJob(post_id="", attempt=0, platform=row.platform,
                                   post_type="", caption="", media=(), account=account,
                                   run_at=now))
        return jobs

    # --- SQL -----------------------------------------------------------------------------

    def _read(self, account_id: str) -> StoredToken | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.account_id == account_id)).first()
        if row is None:
            return None
        refresh = self.cipher.decrypt(row.refresh_token_enc) if row.refresh_token_enc else None
        return StoredToken(self.cipher.decrypt(row.access_token_enc), refresh, row.expires_at)

    def _take_lock(self, account_id: str) -> bool:
        now = utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(tokens)
                .where(tokens.c.account_id == account_id,
                       or_(tokens.c.refresh_lock_until.is_(None),
                           tokens.c.refresh_lock_until < now))
                .values(refresh_lock_until=now + timedelta(seconds=LOCK_SECONDS))
            )
            return result.rowcount == 1

    def _release(self, account_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(tokens).where(tokens.c.account_id == account_id)
                         .values(refresh_lock_until=None))

    def _store(self, account_id: str, token_set: RefreshedToken) -> None:
        values: dict[str, object] = dict(
            access_token_enc=self.cipher.encrypt(token_set.access_token),
            expires_at=token_set.expires_at, refresh_lock_until=None, updated_at=utcnow())
        # Never replace a refresh token with an empty one, and LinkedIn's refresh token
        # keeps its original lifetime: only a new expiry the platform states is stored.
        if token_set.refresh_token:
            values["refresh_token_enc"] = self.cipher.encrypt(token_set.refresh_token)
        if token_set.refresh_token_expires_at is not None:
            values["refresh_expires_at"] = token_set.refresh_token_expires_at
        with self.engine.begin() as conn:
            conn.execute(update(tokens).where(tokens.c.account_id == account_id)
                         .values(**values))


class TokenSweep:
    """A worker's sidecar: TokenRefresher.sweep every SWEEP_SECONDS (and once in cron mode)."""

    def __init__(self, refresher: TokenRefresher, interval: float = SWEEP_SECONDS) -> None:
        self.refresher, self.interval = refresher, interval

    async def run(self, live: Callable[[], bool]) -> None:
        while True:
            try:
                await self.refresher.sweep()
            except Exception:  # a database blip: the next sweep tries again
                log.exception("the token sweep failed; it runs again in %gs", self.interval)
            await asyncio.sleep(self.interval)

    def wake(self) -> None:
        return None

    async def drain(self) -> None:
        await self.refresher.sweep()


@dataclass(frozen=True)
class StoredToken:
    """An account's tokens as stored (decrypted)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None

    @classmethod
    def of(cls, job: PublishJob) -> StoredToken:
        a = job.account
        return cls(a.access_token, a.refresh_token, a.token_expires_at)

    def apply(self, job: PublishJob) -> PublishJob:
        return replace(job, account=replace(
            job.account, access_token=self.access_token, refresh_token=self.refresh_token,
            token_expires_at=self.expires_at))
