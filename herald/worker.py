"""The worker loop: wake, claim, publish concurrently, report, shut down gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from herald import log_context, metrics
from herald import queue as q
from herald.crypto import TokenCipher
from herald.db import Database
from herald.models import utcnow
from herald.planning.loop import Planner
from herald.platforms.base import PublisherRegistry
from herald.publishing import Prepared, Publishing, load_jobs
from herald.queue import Claim, Outcome, Queue, deadline
from herald.statuses import AttemptOutcome, QueueStatus
from herald.tokens import TokenRefresher

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: Threads for database calls (see Worker.run), so also the most connections a worker
#: holds (plus one for LISTEN). With 24, four workers of 25 connections used up
#: PostgreSQL's default max_connections of 100 mid-burst; the transactions are short.
DB_THREADS = 10
#: Seconds an idle worker with a live LISTEN sleeps without a poll. A backstop only: every
#: write that makes a post due sooner NOTIFYs, and the LISTEN connection is probed every
#: 30 s and re-polled after a reconnect.
LISTEN_BACKSTOP = 300.0


#: Files a worker keeps open besides its platform connections: database connections,
#: the LISTEN connection, logs, media downloads' temporary files.
SPARE_FILES = 256


def open_files_for(concurrency: int) -> int:
    """Raise this process's open-files limit to what `concurrency` posts in flight need.

    Each post in flight holds a platform connection (a file descriptor), and the soft
    limit many systems start processes with is 1,024: a worker at the default concurrency
    would fail its connects ("too many open files") in a burst. The soft limit may be
    raised up to the hard one without privileges. Returns the soft limit now in force.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * concurrency + SPARE_FILES  # the platform pool's bound (registry.http_client)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if new > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        if soft < wanted:
            log.warning("this process may open %d files (the hard limit); %d posts in "
                        "flight may need %d: raise the limit (ulimit -n, LimitNOFILE=) or "
                        "lower HERALD_WORKER_CONCURRENCY", soft, concurrency, wanted)
    return int(soft)


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Sidecar(Protocol):
    """Work a worker runs beside its posts (webhook deliveries: herald.events.runner)."""

    def run(self, live: Callable[[], bool]) -> Coroutine[Any, Any, None]:
        """Until cancelled; `live` says whether the worker's LISTEN is connected."""
        ...

    def wake(self) -> None:
        """A NOTIFY arrived: look for work now."""
        ...

    def drain(self) -> Coroutine[Any, Any, None]:
        """Cron mode: what is due now, then return."""
        ...


class Wakeup:
    """Wakes a sleeping worker: from a PostgreSQL listener or from the same process."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        #: True while an instant notification source is connected (LISTEN).
        self.live = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def __call__(self) -> None:
        """Safe to call from any thread (API request handlers run in a thread pool)."""
        if self.loop is None or self.loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.event.set()
        else:
            self.loop.call_soon_threadsafe(self.event.set)


@dataclass
class Summary:
    """Counts since the last summary line, like the seed's cycle summary."""

    claimed: int = 0
    published: int = 0
    retried: int = 0
    failed: int = 0
    unconfirmed: int = 0
    rescued: int = 0
    started: float = 0.0

    def add(self, outcome: Outcome) -> None:
        if outcome.kind == AttemptOutcome.PUBLISHED:
            self.published += 1
        elif outcome.kind == AttemptOutcome.RETRY:
            self.retried += 1
        elif outcome.kind == AttemptOutcome.FAILED:
            self.failed += 1
        else:
            self.unconfirmed += 1

    @property
    def active(self) -> bool:
        return bool(self.claimed or self.rescued)

    def as_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed, "published": self.published, "retried": self.retried,
            "failed": self.failed, "unconfirmed": self.unconfirmed, "rescued": self.rescued,
            "duration_ms": round((time.monotonic() - self.started) * 1000),
        }


class Worker:
    """Publishes due posts: up to `concurrency` at once, a batch claimed ahead."""

    def __init__(
        self,
        *,
        db: Database,
        queue: Queue,
        registry: PublisherRegistry,
        cipher: TokenCipher,
        worker_id: str | None = None,
        concurrency: int = 50,
        batch_size: int = 50,
        poll_interval: float = 1.0,
        rescue_interval: float = 15.0,
        shutdown_grace: float = 30.0,
        clock: Clock = utcnow,
        wakeup: Wakeup | None = None,
        listen: bool = True,
        listen_url: URL | None = None,
        refresher: TokenRefresher | None = None,
        sidecars: Sequence[Sidecar] = (),
        planner: Planner | None = None,
        planning_interval: float = 60.0,
        db_timeout: float = 30.0,
    ) -> None:
        self.db = db
        # A database call that gets no answer in db_timeout has its connection dropped,
        # so a silent network fails calls instead of hanging the worker.
        self.watchdog = deadline.watch(db.engine, db_timeout)
        self.queue = queue
        self.cipher = cipher
        self.publishing = Publishing(queue=queue, registry=registry, engine=db.engine,
                                     refresher=refresher, clock=self.db_now)
        self.worker_id = worker_id or default_worker_id()
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.rescue_interval = rescue_interval
        self.shutdown_grace = shutdown_grace
        self.clock = clock
        self.wakeup = wakeup or Wakeup()
        #: Where to LISTEN (a direct connection when the database is behind PgBouncer).
        self.listen_url = listen_url or db.engine.url
        self.listen = listen and db.dialect == "postgresql"
        self.sidecars = tuple(sidecars)
        self.planner = planner
        self.planning_interval = planning_interval
        self._slots = asyncio.Semaphore(concurrency)
        self._held: dict[str, Claim] = {}
        self._started: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done: list[Outcome] = []
        self._done_event = asyncio.Event()
        # The final flush at shutdown must wait for one already writing, or a worker could
        # exit before its last outcomes are stored.
        self._flush_lock = asyncio.Lock()
        self._slot_freed = asyncio.Event()
        #: Outcomes being written right now (their rows may already be settled).
        self._flushing = 0
        #: Set after an outage: the LISTEN connection may be silently dead; make it anew.
        self._relisten = asyncio.Event()
        self._stopping = False
        #: (when, earliest lease in flight) as the last poll read it; see _rescue_loop.
        self._lease_seen: tuple[datetime, datetime | None] | None = None
        #: The database's clock minus this host's, as the last poll read it (see db_now).
        self._clock_offset = timedelta(0)
        self.summary = Summary(started=time.monotonic())
        self.totals = Summary(started=time.monotonic())

    # --- lifecycle -----------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; finish what started within the grace period; hand back the rest."""
        if not self._stopping:
            log.info("worker %s stopping", self.worker_id)
        self._stopping = True
        self.wakeup()

    async def run(self, *, until_idle: bool = False) -> Summary:
        """Run until stop(); with `until_idle`, until nothing is due or held (cron mode)."""
        # Every line of this worker names it, and the tasks it starts inherit that.
        with log_context.bound(worker_id=self.worker_id):
            return await self._run(until_idle)

    async def _run(self, until_idle: bool) -> Summary:
        loop = asyncio.get_running_loop()
        self.wakeup.bind(loop)
        # Database calls run in threads; most of their time is waiting for the disk flush
        # of a commit. More threads than asyncio's default (cores + 4) let PostgreSQL
        # group those flushes. Kept below the engine's pool (10 + 20 overflow).
        loop.set_default_executor(ThreadPoolExecutor(DB_THREADS, thread_name_prefix="herald-db"))
        log.info("worker %s started (concurrency %d, batch %d, %s)", self.worker_id,
                 self.concurrency, self.batch_size, self.db.dialect)
        background = [
            asyncio.create_task(self._flush_loop(), name="flush"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._rescue_loop(), name="rescue"),
        ]
        if self.listen:
            background.append(asyncio.create_task(self._listen_loop(), name="listen"))
        if not until_idle:
            background += [asyncio.create_task(s.run(lambda: self.wakeup.live),
                                           name="sidecar") for s in self.sidecars]
        if self.planner is not None and until_idle:
            await self._plan()  # cron mode: one pass, then publish what it made due
        elif self.planner is not None:
            background.append(asyncio.create_task(self._planning_loop(), name="planning"))
        try:
            await self._claim_loop(until_idle)
            if until_idle:
                for sidecar in self.sidecars:
                    await sidecar.drain()
        finally:
            await self._shutdown()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            self._log_summary(force=True)
        return self.totals

    async def _claim_loop(self, until_idle: bool) -> None:
        outage = 0.0
        while not self._stopping:
            try:
                if not await self._claim_once(until_idle):
                    return
                if outage:
                    log.warning("database reachable again; worker %s resumes", self.worker_id)
                    self._relisten.set()
                outage = 0.0
            except (DBAPIError, OSError) as exc:
                # The database went away (restart, failover, network): keep what is in
                # flight, wait and try again. Leases we cannot renew meanwhile expire and
                # are rescued, with reconciliation, by whichever worker sees them first.
                outage = min(max(outage * 2, 0.5), 15.0)
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                log.warning("database unavailable (%s); retrying in %.1fs", reason, outage)
                await self._sleep(outage)

    async def _claim_once(self, until_idle: bool) -> bool:
        """One wake-up: claim what is due or sleep. False when a cron run is done."""
        self.wakeup.event.clear()
        free = self.concurrency + self.batch_size - len(self._held)
        if free <= 0:
            self._slot_freed.clear()
            await self._slot_freed.wait()
            return True
        horizon = await asyncio.to_thread(self.queue.horizon)
        now = self._read_clock(horizon)
        self._lease_seen = (now, horizon.lease)
        due = horizon.due
        if due is not None and due <= now:
            # Due by the database's clock, which the claim itself judges again.
            claims = await asyncio.to_thread(
                self.queue.claim, worker_id=self.worker_id, limit=min(self.batch_size, free))
            if claims:
                await self._start(claims)
            elif self.queue.holding is not None:
                # What is due waits for a platform held as down (herald.queue.health):
                # look again at the next poll; the probe goes when it is due.
                if until_idle and not self._held:
                    return False
                await self._sleep(self.poll_interval)
            elif self.queue.capped:
                # What is due waits for its platform's cap: room frees as posts finish,
                # here (the flush wakes us) or on other workers (the next poll sees it).
                await self._sleep(self.poll_interval)
            else:
                # Due rows exist but others hold their locks: their commit is moments away.
                await self._sleep(0.02)
            return True
        if until_idle:
            if not self._held:
                return False
            await self._sleep(self.poll_interval)
            return True
        self._log_summary()
        # With LISTEN we hear of new posts at once; otherwise poll, at most 1 s apart.
        timeout = LISTEN_BACKSTOP if self.wakeup.live else self.poll_interval
        if due is not None:
            timeout = min(timeout, max(0.0, (due - now).total_seconds()))
        await self._sleep(timeout)
        return True

    def _read_clock(self, horizon: q.Horizon) -> datetime:
        """The database's time as a poll read it; remembers how far this host is off."""
        if horizon.now is None:
            return self.clock()
        self._clock_offset = horizon.now - self.clock()
        return horizon.now

    def db_now(self) -> datetime:
        """The database's time, estimated from this host's clock and the last poll.

        Claims, heartbeats and rescues ask the database itself; this serves the times
        the worker writes (outcomes, retry times) and its own timers, so a host whose
        clock is off by minutes still writes the database's times.
        """
        return self.clock() + self._clock_offset

    async def _sleep(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.event.wait(), timeout)

    async def _start(self, claims: list[Claim]) -> None:
        self.summary.claimed += len(claims)
        self.totals.claimed += len(claims)
        for claim in claims:
            self._held[claim.post_id] = claim
        try:
            prepared = await asyncio.to_thread(load_jobs, self.db.engine, self.cipher,
                                               self.queue, claims)
        except Exception:
            # Forget these claims: their leases expire and another attempt picks them up.
            for claim in claims:
                self._held.pop(claim.post_id, None)
            raise
        # A create that raced a pause queued its post as pending: held here instead.
        holds = [item.claim for item in prepared if item.hold]
        if holds:
            await asyncio.to_thread(self.queue.release, holds, now=self.clock(),
                                    status=QueueStatus.HELD)
            for claim in holds:
                self._held.pop(claim.post_id, None)
        for item in prepared:
            if not item.hold:
                self._tasks[item.claim.post_id] = asyncio.create_task(self._publish(item))

    async def _publish(self, item: Prepared) -> None:
        claim = item.claim
        account = item.job.account.id if item.job is not None else None
        with log_context.bound(post_id=claim.post_id, account_id=account,
                               attempt=claim.attempt):
            async with self._slots:
                if self._stopping:
                    return  # never started: handed back by _shutdown
                self._started.add(claim.post_id)
                outcome = await self.publishing.run(item)
        self._done.append(outcome)
        self._done_event.set()

    # --- background loops ----------------------------------------------------------------

    async def _flush_loop(self) -> None:
        """Write outcomes in batches: one transaction for however many finished meanwhile."""
        while True:
            await self._done_event.wait()
            self._done_event.clear()
            await self._flush()

    async def _flush(self) -> None:
        async with self._flush_lock:
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        batch, self._done = self._done, []
        if not batch:
            return
        self._flushing = len(batch)
        try:
            await asyncio.to_thread(self.queue.finish, batch, now=self.db_now())
        except Exception:
            log.exception("could not record %d outcomes; will try again", len(batch))
            self._done = batch + self._done
            self._flushing = 0
            await asyncio.sleep(1.0)
            self._done_event.set()
            return
        self._flushing = 0  # no await until their claims are forgotten below
        if self.queue.capped:
            self.wakeup.event.set()  # room under a platform cap may have freed
        for outcome in batch:
            pid = outcome.claim.post_id
            self._held.pop(pid, None)
            self._started.discard(pid)
            self._tasks.pop(pid, None)
            self.summary.add(outcome)
            self.totals.add(outcome)
            if outcome.kind != AttemptOutcome.PUBLISHED:
                with log_context.bound(post_id=pid, attempt=outcome.claim.attempt):
                    log.warning("post %s: %s (%s) %s", pid, outcome.kind, outcome.error_code,
                                outcome.error_message)
        self._slot_freed.set()
        self.wakeup()

    async def _heartbeat_loop(self) -> None:
        interval = self.queue.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            if not self._held:
                continue  # nothing leased: an idle worker makes no heartbeat queries
            holding = len(self._held) - self._flushing  # at least: a write may be landing
            try:
                held = await asyncio.to_thread(self.queue.heartbeat, worker_id=self.worker_id)
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)
                continue
            if held < holding:
                # Rescued by another worker while this one was paused or cut off: their
                # commits are refused (the check before each), their outcomes dropped.
                log.warning("worker %s holds %d of its %d leases; the others were rescued "
                            "(was it paused or cut off?) and will not be committed here",
                            self.worker_id, held, holding)

    def _lease_may_have_run_out(self) -> bool:
        """Whether a rescue sweep can find anything, judged from the last poll.

        Leases only move later (renewals; claims since the poll run to at least their
        claim time + the lease), so when the earliest lease a poll saw is still ahead and
        the poll is younger than a lease, none has run out: the sweep's query is skipped,
        and an idle worker sends nothing but its polls (one a second at most without
        LISTEN, none with it). This assumes the workers sharing a database share
        the lease setting: a longer one here could sweep a shorter one's lease late.
        """
        if self._lease_seen is None:
            return True
        polled_at, earliest = self._lease_seen
        if earliest is None and self.wakeup.live:
            # Nothing was in flight, and whatever makes a post due sooner since (a new
            # post, a retry, a rescue, a release) NOTIFYs and wakes a poll first: until a
            # poll sees a lease, no worker can have one that runs out.
            return False
        now = self.db_now()
        if now - polled_at >= self.queue.lease:
            return True
        return earliest is not None and earliest <= now

    async def _rescue_loop(self) -> None:
        while True:
            if self._lease_may_have_run_out():
                await self._rescue()
            await asyncio.sleep(self.rescue_interval)

    async def _rescue(self) -> None:
        try:
            rescued = await asyncio.to_thread(self.queue.rescue_expired)
        except Exception as exc:
            log.warning("rescue sweep failed: %s", exc)
            return
        if rescued:
            metrics.leases_rescued(rescued)
            log.warning("rescued %d posts whose worker stopped renewing its lease", rescued)
            self.summary.rescued += rescued
            self.totals.rescued += rescued
            self.wakeup()

    async def _planning_loop(self) -> None:
        """Expand series and refill empty slots every planning_interval seconds."""
        while True:
            await self._plan()
            await asyncio.sleep(self.planning_interval)

    async def _plan(self) -> None:
        assert self.planner is not None
        try:
            await asyncio.to_thread(self.planner.run_once, self.clock())
        except Exception:
            # The database went away, or a bug: the next pass tries again; publishing
            # goes on meanwhile.
            log.exception("planning pass failed")

    async def _listen_loop(self) -> None:
        delay = 1.0
        while True:
            self._relisten.clear()
            listening = asyncio.ensure_future(q.listen(self.listen_url, self._on_notify,
                                                       on_listening=self._listening))
            outage = asyncio.ensure_future(self._relisten.wait())
            try:
                await asyncio.wait({listening, outage}, return_when=asyncio.FIRST_COMPLETED)
                if not listening.done():
                    log.info("making the LISTEN connection anew after a database outage")
                elif listening.exception() is not None:
                    log.warning("LISTEN connection lost (%s); polling every %.1fs until it "
                                "is back", listening.exception(), self.poll_interval)
            finally:
                for task in (listening, outage):
                    task.cancel()
                await asyncio.gather(listening, outage, return_exceptions=True)
            self.wakeup.live = False
            self._on_notify()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _listening(self) -> None:
        # Only now may an idle worker sleep until a NOTIFY (LISTEN_BACKSTOP): while the
        # connection is still being made (slow under load, or after a restart) it polls.
        self.wakeup.live = True

    def _on_notify(self) -> None:
        self.wakeup.event.set()
        for sidecar in self.sidecars:
            sidecar.wake()

    # --- shutdown ------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        self._stopping = True
        unstarted = [c for pid, c in self._held.items() if pid not in self._started]
        for claim in unstarted:
            task = self._tasks.pop(claim.post_id, None)
            if task is not None:
                task.cancel()
            self._held.pop(claim.post_id, None)
        if unstarted:
            try:
                released = await asyncio.to_thread(self.queue.release, unstarted,
                                                   now=self.db_now())
                log.info("handed back %d posts not yet started", released)
            except DBAPIError as exc:
                log.warning("could not hand back %d posts (%s); their leases will expire "
                            "and be rescued", len(unstarted), exc.orig or exc)
        running = [t for t in self._tasks.values() if not t.done()]
        if running:
            log.info("waiting up to %.0fs for %d posts in flight", self.shutdown_grace,
                     len(running))
            _, late = await asyncio.wait(running, timeout=self.shutdown_grace)
            for task in late:
                task.cancel()
            if late:
                # Their leases stay; once they expire, a worker reconciles before resending.
                log.warning("%d posts still in flight after the grace period; their leases "
                            "will be rescued", len(late))
        await self._flush()

    def _log_summary(self, *, force: bool = False) -> None:
        if not self.summary.active and not force:
            return
        if self._held and not force:
            return
        log.info("cycle summary: %s", self.summary.as_dict())
        self.summary = Summary(started=time.monotonic())
