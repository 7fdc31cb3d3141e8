"""The worker's side of events: dispatch the outbox, send due webhook deliveries and
notifications, make the daily digests, rescue leases.

It runs beside the publishing loop as its own task with its own concurrency, so a slow
or dead receiver never holds up a post. An idle runner makes one cheap read a poll
(HERALD_OUTBOX_POLL_SECONDS) and opens a write transaction only when there is work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Engine, Table, select

from herald import __version__, metrics
from herald.crypto import TokenCipher
from herald.db import READ_ONLY
from herald.events import dispatcher, health, payloads, retention, sender, signing
from herald.events.outbox import events_t
from herald.models import utcnow
from herald.notifications import channels
from herald.notifications.fanout import channels_t
from herald.queue import deliveries as dq
from herald.queue.dialects import dialect_for
from herald.queue.policy import Retry
from herald.statuses import DeliveryStatus

if TYPE_CHECKING:
    from herald.config import Settings

log = logging.getLogger(__name__)

#: Seconds an idle runner with a live LISTEN sleeps without a look (a backstop only).
LISTEN_BACKSTOP = 300.0
#: How often a runner looks for daily digests that are due.
DIGEST_CHECK_SECONDS = 60.0
#: How often a runner deletes what is past HERALD_EVENT_RETENTION_DAYS (and once at start).
RETENTION_CHECK_SECONDS = 3600.0
#: A delivery attempt's end as the `herald_webhook_deliveries` metric names it.
_OUTCOMES = {DeliveryStatus.DELIVERED: "delivered", DeliveryStatus.PENDING: "retry",
             DeliveryStatus.FAILED: "failed"}
#: The two queues a runner sends from.
LANES = (dq.deliveries_t, dq.sends_t)


@dataclass(frozen=True)
class Options:
    poll_seconds: float = 1.0
    timeout: float = 10.0
    concurrency: int = 10
    max_attempts: int = 30
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    disable_after: float = 86400.0
    allow_private: bool = False
    smtp: channels.Smtp = channels.NO_SMTP
    #: Finished events, deliveries and sends older than this are deleted; None keeps them.
    retention: timedelta | None = timedelta(days=30)

    @classmethod
    def from_settings(cls, s: Settings) -> Options:
        return cls(poll_seconds=s.outbox_poll_seconds, timeout=s.webhook_timeout_seconds,
                   concurrency=s.webhook_concurrency, max_attempts=s.webhook_max_attempts,
                   retry_base_seconds=s.webhook_retry_base_seconds,
                   retry_max_seconds=s.webhook_retry_max_seconds,
                   disable_after=s.webhook_disable_after_seconds,
                   allow_private=s.allow_private_webhook_urls,
                   smtp=channels.Smtp.from_settings(s),
                   retention=timedelta(days=s.event_retention_days)
                   if s.event_retention_days else None)

    @property
    def lease(self) -> timedelta:
        # One POST is bounded by the timeout (DNS, connect, answer); the rest covers the
        # database writes around it. A lease that runs out only means a second send.
        return timedelta(seconds=2 * self.timeout + 5.0)

    @property
    def send_lease(self) -> timedelta:
        # An e-mail: connect, TLS, login and the message, each bounded by the timeout.
        return timedelta(seconds=4 * self.smtp.timeout + 5.0)


@dataclass(frozen=True)
class Job:
    """A claimed delivery with what sending it needs."""

    lease: dq.Lease
    webhook_id: str
    url: str
    secrets: tuple[str, ...]
    event_id: str
    event_type: str
    body: bytes


class EventRunner:
    """Dispatches events and sends webhook deliveries, up to `concurrency` at once."""

    def __init__(self, engine: Engine, cipher: TokenCipher, *, worker_id: str,
                 options: Options | None = None, clock: Callable[[], datetime] = utcnow,
                 fan_outs: tuple[dispatcher.FanOut, ...] = (),
                 digests: Callable[[datetime], int] | None = None) -> None:
        self.engine = engine
        self.reader = engine.execution_options(**{READ_ONLY: True})
        self.sql = dialect_for(engine.dialect.name)
        self.cipher = cipher
        self.worker_id = worker_id
        self.options = options or Options()
        self.retry = Retry(self.options.retry_base_seconds, self.options.retry_max_seconds)
        self.clock = clock
        self.fan_outs = fan_outs
        #: Queues the daily digests due at a time (herald.notifications.digest).
        self.digests = digests
        self._next_digest_check = 0.0
        self._next_purge = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._woken = asyncio.Event()
        self._client: httpx.AsyncClient | None = None

    # --- the loop --------------------------------------------------------------------------

    def wake(self) -> None:
        """Something changed (a NOTIFY, a delivery done): look again now."""
        self._woken.set()

    async def run(self, live: Callable[[], bool] = lambda: False) -> None:
        """Until cancelled: a cycle, then sleep until the next due time or a wake-up.

        `live` says whether a LISTEN connection is up: then events and deliveries wake
        this runner as they are inserted (a trigger NOTIFYs, migration 0014) and an idle
        runner sends nothing; without one it polls every HERALD_OUTBOX_POLL_SECONDS.
        """
        try:
            while True:
                self._woken.clear()
                try:
                    timeout = await self.cycle(live())
                except Exception as exc:  # the database away: the next poll tries again
                    log.warning("events: cycle failed (%s)", exc)
                    timeout = self.options.poll_seconds
                if timeout > 0:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a
                    # cancel that lands as the wake-up does, and this loop never ends.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(timeout):
                            await self._woken.wait()
        finally:
            await self._close()

    async def drain(self, *, rounds: int = 100) -> None:
        """Cron mode (`run-once`): dispatch and send whatever is due now, then return."""
        try:
            for _ in range(rounds):
                timeout = await self.cycle(False)
                busy = bool(self._tasks) or timeout == 0
                await self._wait_in_flight()
                if not busy:
                    return
        finally:
            await self._close()

    async def cycle(self, live: bool) -> float:
        """One round: dispatch new events, rescue, make due digests, claim and start due
        deliveries and sends. Returns how long to sleep: 0 when there may be more now."""
        now = self.clock()
        pending, horizons = await asyncio.to_thread(self._probe)
        dispatched = made = 0
        if pending:
            dispatched = await asyncio.to_thread(
                dispatcher.dispatch, self.engine, now=now,
                max_attempts=self.options.max_attempts, fan_outs=self.fan_outs)
        if self.digests is not None and time.monotonic() >= self._next_digest_check:
            self._next_digest_check = time.monotonic() + DIGEST_CHECK_SECONDS
            made = await asyncio.to_thread(self.digests, now)
        await self._housekeeping(now)
        started = waiting = False
        for table, (due, lease) in horizons.items():
            rescued = 0
            if lease is not None and lease < now:
                rescued = await asyncio.to_thread(self._rescue, table, now)
            free = self.options.concurrency - len(self._tasks)
            if not (dispatched or made or rescued or (due is not None and due <= now)):
                continue
            if free <= 0:
                continue  # a task's end wakes the loop
            leases = await asyncio.to_thread(self._claim, table, free)
            for item in leases:
                work = self._deliver(item) if table is dq.deliveries_t else self._notify(item)
                task = asyncio.create_task(work, name=f"{table.name}-{item.id}")
                self._tasks.add(task)
                task.add_done_callback(self._done)
            started = started or bool(leases)
            # Due but not claimable (behind an earlier delivery of its post): poll.
            waiting = waiting or not leases
        if started or dispatched or made:
            return 0.0
        if waiting:
            return self.options.poll_seconds
        timeout = LISTEN_BACKSTOP if live else self.options.poll_seconds
        if self.digests is not None:
            timeout = min(timeout, max(0.0, self._next_digest_check - time.monotonic()))
        for due, lease in horizons.values():
            for when in (due, lease):
                if when is not None and when > now:
                    timeout = min(timeout, (when - now).total_seconds() + 0.01)
        return timeout

    async def _housekeeping(self, now: datetime) -> None:
        """Delete what is past the retention, at most every RETENTION_CHECK_SECONDS."""
        keep = self.options.retention
        if keep is None or time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + RETENTION_CHECK_SECONDS
        try:
            await asyncio.to_thread(retention.purge, self.engine, now=now, keep=keep)
        except Exception as exc:  # the next check tries again; sending goes on meanwhile
            log.warning("events: retention purge failed (%s)", exc)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.wake()

    def _probe(self) -> tuple[bool, dict[Table, tuple[datetime | None, datetime | None]]]:
        with self.reader.connect() as conn:
            horizons = {table: dq.horizon(conn, table) for table in LANES}
            return dispatcher.has_pending(conn), horizons

    def _rescue(self, table: Table, now: datetime) -> int:
        with self.engine.begin() as conn:
            rescued = dq.rescue_expired(conn, table, now=now)
        if rescued:
            log.warning("events: %d %s whose worker stopped went back to the queue",
                        rescued, table.name.replace("_", " "))
        return rescued

    def _claim(self, table: Table, limit: int) -> list[dq.Lease]:
        now = self.clock()
        lease = self.options.lease if table is dq.deliveries_t else self.options.send_lease
        with self.engine.begin() as conn:
            return dq.claim(conn, self.sql, table, worker_id=self.worker_id,
                            limit=limit, now=now, lease_until=now + lease)

    async def _wait_in_flight(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _close(self) -> None:
        # In flight at a stop: cancelled; their leases run out and are rescued, and the
        # delivery goes out again with the same event id (at-least-once).
        for task in list(self._tasks):
            task.cancel()
        await self._wait_in_flight()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- one delivery ----------------------------------------------------------------------

    async def _deliver(self, lease: dq.Lease) -> None:
        try:
            job = await asyncio.to_thread(self._load, lease)
            if job is None:
                return
            answer = await self._send(job)
            await asyncio.to_thread(self._finish, job, answer)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("events: delivery %s failed unexpectedly; its lease will be "
                          "rescued", lease.id)

    def _load(self, lease: dq.Lease) -> Job | None:
        d, w, e = dq.deliveries_t.c, dq.webhooks_t.c, events_t.c
        with self.reader.connect() as conn:
            row = conn.execute(
                select(w.id.label("webhook_id"), w.url, w.secret_enc, w.previous_secret_enc,
                       w.previous_secret_until, e.id.label("event_id"), e.type,
                       e.created_at, e.data)
                .select_from(dq.deliveries_t.join(dq.webhooks_t, w.id == d.webhook_id)
                             .join(events_t, e.id == d.event_id))
                .where(d.id == lease.id)).first()
        if row is None:
            return None
        return Job(lease, row.webhook_id, row.url, self._secrets(row), row.event_id, row.type,
                   payloads.body(row.event_id, row.type, row.created_at, row.data))

    def _secrets(self, row: Any) -> tuple[str, ...]:
        current = self.cipher.decrypt(row.secret_enc)
        if row.previous_secret_enc and row.previous_secret_until \
                and row.previous_secret_until > self.clock():
            return current, self.cipher.decrypt(row.previous_secret_enc)
        return (current,)

    async def _send(self, job: Job) -> sender.Answer:
        if self._client is None:
            from herald.platforms.registry import fetch_client

            self._client = fetch_client()
        stamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Herald-Webhooks/{__version__}",
            "Herald-Event-Id": job.event_id,
            "Herald-Event-Type": job.event_type,
            "Herald-Delivery-Id": job.lease.id,
            signing.SIGNATURE_HEADER: signing.header(job.secrets, stamp, job.body),
        }
        return await sender.post(self._client, job.url, job.body, headers,
                                 allow_private=self.options.allow_private,
                                 timeout=self.options.timeout)

    def _finish(self, job: Job, answer: sender.Answer) -> None:
        result = dq.Result(job.lease, answer.ok, error_message=answer.error,
                           response_status=answer.status, response_body=answer.body,
                           duration_ms=answer.duration_ms, not_before=answer.retry_after)
        now = self.clock()
        with self.engine.begin() as conn:
            status = dq.finish(conn, dq.deliveries_t, result, now=now, retry=self.retry)
            if status is None:
                return  # rescued meanwhile: the rescuer's attempt counts
            disabled = health.note_attempt(conn, job.webhook_id, ok=answer.ok, now=now,
                                           disable_after=self.options.disable_after)
        metrics.webhook_delivered(_OUTCOMES[status])
        if disabled:
            metrics.webhook_delivered("disabled")
        if not answer.ok:
            log.warning("webhook %s: delivery %s attempt %d: %s", job.webhook_id,
                        job.lease.id, job.lease.attempt, answer.error)
        if disabled:
            log.warning("webhook %s disabled: %s", job.webhook_id,
                        health.disabled_reason(self.options.disable_after))

    # --- one notification -------------------------------------------------------------------

    async def _notify(self, lease: dq.Lease) -> None:
        try:
            job = await asyncio.to_thread(self._load_send, lease)
            if job is None:
                return
            kind, target, title, body = job
            error: str | None = None
            try:
                if kind == channels.EMAIL:
                    await asyncio.to_thread(channels.send_email, self.options.smtp, target,
                                            title, body)
                else:
                    await asyncio.to_thread(channels.send_chat, target, title, body)
            except channels.SendError as exc:
                error = str(exc)
            await asyncio.to_thread(self._finish_send, lease, error)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("events: notification %s failed unexpectedly; its lease will be "
                          "rescued", lease.id)

    def _load_send(self, lease: dq.Lease) -> tuple[str, str, str, str] | None:
        s, c = dq.sends_t.c, channels_t.c
        with self.reader.connect() as conn:
            row = conn.execute(
                select(c.kind, c.target_enc, s.title, s.body)
                .select_from(dq.sends_t.join(channels_t, c.id == s.channel_id))
                .where(s.id == lease.id)).first()
        if row is None:
            return None
        return row.kind, self.cipher.decrypt(row.target_enc), row.title, row.body

    def _finish_send(self, lease: dq.Lease, error: str | None) -> None:
        with self.engine.begin() as conn:
            dq.finish(conn, dq.sends_t, dq.Result(lease, error is None, error_message=error),
                      now=self.clock(), retry=self.retry)
        if error is not None:
            log.warning("notification %s attempt %d: %s", lease.id, lease.attempt, error)
