"""One claimed post through its publisher, ending in a queue Outcome."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, or_, select, update
from sqlalchemy.exc import DBAPIError

from herald import events, first_comment, logs, metrics, queue
from herald.crypto import TokenCipher
from herald.models import Post, SocialAccount, SocialToken, utcnow
from herald.platforms.base import (
    AccountPause,
    AccountRef,
    History,
    Journal,
    MediaItem,
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    Publisher,
    PublisherRegistry,
    PublishError,
    PublishJob,
    PublishResult,
    RateLimitedError,
    Reconciler,
    TransientError,
)
from herald.platforms.registry import REQUEST_TIMEOUT
from herald.platforms.transport import SEND_BY
from herald.queue import (
    MAX_RESCUES,
    CancelRequested,
    Claim,
    LeaseLost,
    Outcome,
    Queue,
    among,
    deadline,
)
from herald.statuses import AttemptOutcome, Phase
from herald.tokens import TokenRefresher

log = logging.getLogger(__name__)

posts = cast(Table, Post.__table__)
accounts = cast(Table, SocialAccount.__table__)
tokens = cast(Table, SocialToken.__table__)

#: Phases after which a crash leaves the platform's state unknown.
COMMIT_PHASES = frozenset({Phase.COMMITTING})
#: Phases written durably before their call: the commit's and the first comment's.
DURABLE_PHASES = frozenset({Phase.COMMITTING, Phase.COMMENTING})
PUBLISHED, RETRY, FAILED = AttemptOutcome.PUBLISHED, AttemptOutcome.RETRY, AttemptOutcome.FAILED
#: Said while a post whose commit may be out waits for its next attempt.
CHECK_BEFORE_RETRY = "Herald will check whether it went out before trying again."
#: A first attempt's: nothing recorded yet.
NO_HISTORY = History()


@dataclass
class Prepared:
    """A claim with its job ready, or the outcome that makes publishing pointless."""

    claim: Claim
    job: PublishJob | None = None
    outcome: Outcome | None = None
    #: Its account's queue was paused after the post was queued: hand it back as held.
    hold: bool = False
    #: The post's platform, for the metrics of an outcome decided before publishing.
    platform: str = "unknown"
    #: The post is already `published`: this claim only retries its first comment.
    follow_up: bool = False


def load_jobs(
    engine: Engine, cipher: TokenCipher, queue: Queue, claims: Sequence[Claim]
) -> list[Prepared]:
    """Read posts, accounts and tokens for a batch of claims in one query."""
    if not claims:
        return []
    ids = [c.post_id for c in claims]
    with engine.connect() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                select(posts.c.id, posts.c.platform, posts.c.post_type, posts.c.caption,
                       posts.c.media, posts.c.options, posts.c.scheduled_at,
                       posts.c.status, posts.c.external_post_id, posts.c.permalink,
                       accounts.c.id.label("account_id"), accounts.c.external_id,
                       accounts.c.name, accounts.c.state, accounts.c.state_reason,
                       accounts.c.sandbox, accounts.c.server_url, accounts.c.queue_paused_at,
                       tokens.c.access_token_enc, tokens.c.refresh_token_enc,
                       tokens.c.expires_at)
                .join(accounts, accounts.c.id == posts.c.account_id)
                .outerjoin(tokens, tokens.c.account_id == accounts.c.id)
                .where(among(posts.c.id, ids, engine.dialect.name))
            )
        }
    retried = [c.post_id for c in claims if c.attempt > 1]
    known = queue.histories(retried) if retried else {}
    # A batch often holds many posts of one account: decrypt each token once.
    decrypt = functools.lru_cache(maxsize=256)(cipher.decrypt)
    return [_prepare(c, rows.get(c.post_id), decrypt, known.get(c.post_id, NO_HISTORY))
            for c in claims]


def _prepare(claim: Claim, row: Any, decrypt: Callable[[str], str],
             history: History) -> Prepared:
    if row is None:
        return Prepared(claim, outcome=Outcome(claim, FAILED, error_code="missing",
                                               error_message="The post no longer exists."))
    if row.queue_paused_at is not None:
        return Prepared(claim, hold=True)
    if row.state == "needs_reauth":
        return Prepared(claim, platform=row.platform, outcome=Outcome(
            claim, FAILED, error_code="needs_reauth",
            error_message=f"The account {row.name!r} must be reconnected before it can "
                          f"publish ({row.state_reason or 'its token is no longer valid'})."))
    if row.access_token_enc is None:
        return Prepared(claim, platform=row.platform, outcome=Outcome(
            claim, FAILED, error_code="no_token",
            error_message=f"The account {row.name!r} has no access token; reconnect it."))
    try:
        access = decrypt(row.access_token_enc)
        refresh = decrypt(row.refresh_token_enc) if row.refresh_token_enc else None
    except ValueError as exc:
        return Prepared(claim, platform=row.platform, outcome=Outcome(
            claim, FAILED, error_code="token_key", error_message=str(exc)))
    account = AccountRef(id=row.account_id, platform=row.platform,
                         external_id=row.external_id, name=row.name, access_token=access,
                         refresh_token=refresh, token_expires_at=row.expires_at,
                         sandbox=bool(row.sandbox), server_url=row.server_url)
    follow_up = row.status == "published"
    if follow_up:
        # Its first comment is retried: the post itself is out, under the post's ids.
        history = replace(history, post_out=True, ids={
            "external_id": row.external_post_id, "permalink": row.permalink,
            **history.ids})
    job = PublishJob(
        post_id=claim.post_id, attempt=claim.attempt, platform=row.platform,
        post_type=row.post_type, caption=row.caption or "",
        media=tuple(MediaItem.from_dict(m) for m in row.media or []),
        account=account, run_at=row.scheduled_at or utcnow(),
        options=dict(row.options or {}), history=history,
    )
    return Prepared(claim, job=job, platform=row.platform, follow_up=follow_up)


class _Progress:
    """One attempt as it goes: the phase it reached, the platform ids it obtained, and
    whether an earlier commit may still be out. `record` is the job's JournalFn."""

    def __init__(self, queue: Queue, claim: Claim, *, unsettled: bool,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.queue, self.claim, self.unsettled = queue, claim, unsettled
        self.clock = clock
        self.phase = Phase.CLAIMED
        self.seen: dict[str, Any] = {}

    async def record(self, phase: Phase, ids: dict[str, Any]) -> None:
        self.phase = phase
        self.seen.update(ids)
        if "committing_at" in ids:
            # By the database's clock (the worker's estimate): the rescuer compares it
            # with its own to know when a cut-off commit can no longer land.
            self.seen["committing_at"] = self.clock().isoformat()
        if phase not in DURABLE_PHASES:
            SEND_BY.set(None)  # past the commit (or before it): no lease to outrun
            # Ids from idempotent steps ride along with "committing" or the outcome: a
            # durable write per step would cost a disk flush each, and losing them in
            # a crash only means a fresh container or upload, never a second post.
            return
        renewed_at = time.monotonic()
        try:
            # A cancel is honoured up to the commit; past it the post is out anyway.
            await asyncio.to_thread(self.queue.record_phase, self.claim, phase=phase,
                                    ids=dict(self.seen),
                                    check_cancel=phase == Phase.COMMITTING, check_lease=True)
        except CancelRequested:
            self.phase = Phase.CANCELLED
            raise Cancelled() from None
        except LeaseLost:
            self.phase = Phase.CLAIMED  # nothing was sent
            raise TransientError("This worker lost its lease before posting; another "
                                 "worker has the post.", code="lease_lost") from None
        except DBAPIError:
            self.phase = Phase.CLAIMED  # the commit was never sent
            # Never commit without "committing" on record: stop here and retry later.
            # (After a commit, the journal still says "committing", so the retry
            # reconciles instead of posting again.)
            raise TransientError("The database was unavailable while recording "
                                 "progress; Herald will try again.",
                                 code="database") from None
        # The lease was just renewed: what this task sends must leave before it can run
        # out (a worker paused here wakes up unable to send; herald.queue.deadline).
        SEND_BY.set(deadline.send_by(renewed_at, self.queue.lease.total_seconds()))


class Publishing:
    """Runs one job through its publisher and turns what happened into an Outcome."""

    def __init__(self, *, queue: Queue, registry: PublisherRegistry, engine: Engine,
                 refresher: TokenRefresher | None = None,
                 in_flight_seconds: float = REQUEST_TIMEOUT,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.in_flight_seconds = in_flight_seconds
        #: The database's time as the worker estimates it (Worker.db_now).
        self.clock = clock
        self.queue = queue
        self.registry = registry
        self.engine = engine
        self.refresher = refresher

    async def run(self, prepared: Prepared) -> Outcome:
        if prepared.outcome is not None or prepared.job is None:
            assert prepared.outcome is not None
            metrics.attempt_finished(prepared.platform, prepared.outcome.kind,
                                     error_code=prepared.outcome.error_code, seconds=None)
            return prepared.outcome
        job = prepared.job
        metrics.attempt_started(job.platform, attempt=job.attempt, run_at=job.run_at)
        started = time.monotonic()
        outcome = await self._run(prepared.claim, job)
        if prepared.follow_up:
            outcome = replace(outcome, follow_up=True)
        metrics.attempt_finished(job.platform, outcome.kind, error_code=outcome.error_code,
                                 seconds=time.monotonic() - started)
        return outcome

    async def _run(self, claim: Claim, job: PublishJob) -> Outcome:
        # An earlier commit may be out until reconciliation says otherwise: until then no
        # ending of this attempt may call the post `failed`.
        progress = _Progress(self.queue, claim, unsettled=needs_reconciling(job.history),
                             clock=self.clock)
        job = replace(job, journal=Journal(progress.record))
        outcome = await self._attempt(job, progress)
        outcome = await self._first_comment(job, progress, outcome)
        if not progress.seen:
            return outcome
        # Ids the attempt obtained (containers, uploads) go to the journal with the outcome.
        return replace(outcome, platform_ids={**progress.seen, **outcome.platform_ids})

    async def _attempt(self, job: PublishJob, progress: _Progress) -> Outcome:
        claim = progress.claim
        try:
            publisher = self.registry.get(job.platform)
            if self.refresher is not None:
                job = await self.refresher.fresh(job)
            result = await self._publish(publisher, job, progress)
        except PublishError as exc:
            await self._honour_pause(job, exc.pause)
            return await self._failed(claim, job, exc, progress.phase,
                                      unsettled=progress.unsettled)
        except Exception as exc:  # a bug of ours or an unmapped library error
            log.exception("publishing post %s failed unexpectedly", claim.post_id)
            if progress.phase in COMMIT_PHASES:
                return Outcome(claim, RETRY, error_code="internal", unknown=True,
                               error_message=f"Herald failed while the post was being "
                                             f"committed ({type(exc).__name__}).",
                               next_step=CHECK_BEFORE_RETRY)
            said = logs.redact(f"{type(exc).__name__}: {exc}",  # its text may hold a URL
                               job.account.access_token, job.account.refresh_token)
            return Outcome(claim, RETRY, error_code="internal",
                           error_message=f"Internal error: {said}")
        if isinstance(result, Outcome):
            return result
        await self._honour_pause(job, result.pause)
        return Outcome(claim, PUBLISHED, external_id=result.external_id,
                       permalink=result.permalink, phase=Phase.COMMITTED,
                       platform_ids=result.extra)

    async def _first_comment(self, job: PublishJob, progress: _Progress,
                             outcome: Outcome) -> Outcome:
        """The second step: the post is out; its first comment, if it has one to post."""
        text = first_comment.needs_comment(job)
        if outcome.kind != PUBLISHED or outcome.external_id is None or text is None:
            return outcome
        post = PublishResult(outcome.external_id, outcome.permalink, extra={
            **job.history.ids, **progress.seen, **outcome.platform_ids})
        try:
            publisher: object = self.registry.get(job.platform)
        except PublishError as exc:
            return replace(outcome, platform_ids={**outcome.platform_ids,
                                                  first_comment.ERROR: exc.message})
        ids = await first_comment.run(publisher, job, post, text, record=progress.record,
                                 now=self.clock)
        return replace(outcome, platform_ids={**outcome.platform_ids, **ids},
                       phase=Phase.COMMENTED if first_comment.DONE in ids else outcome.phase)

    async def _publish(self, publisher: Publisher, job: PublishJob, progress: _Progress
                       ) -> PublishResult | Outcome:
        """Reconcile an unsettled earlier commit, then (unless that settled it) publish."""
        claim = progress.claim
        if job.history.post_out and job.history.ids.get("external_id"):
            # The post is out (published, or its worker stopped while commenting): only
            # its first comment is left, and _first_comment posts it.
            ids = job.history.ids
            return Outcome(claim, PUBLISHED, external_id=str(ids["external_id"]),
                           permalink=ids.get("permalink"), phase=Phase.COMMITTED)
        if progress.unsettled:
            result = await self._reconcile(publisher, job)
            if result is not None:
                return Outcome(claim, PUBLISHED, external_id=result.external_id,
                               permalink=result.permalink, phase=Phase.RECONCILED,
                               platform_ids=result.extra)
            in_flight = self._in_flight(job)
            if in_flight > 0:
                raise _NotYet(f"{job.platform} does not show the post yet, but the "
                              "publishing call of a worker that stopped may still "
                              "land; Herald looks again once it cannot.",
                              code="in_flight", retry_after=in_flight)
            progress.unsettled = False  # checked: the earlier commit did not go out
        if job.history.final_check:
            # Its workers kept dying: this attempt only checks, it never sends.
            return Outcome(claim, FAILED, error_code="worker_lost", phase=Phase.RECONCILED,
                           error_message=f"The worker publishing this post stopped "
                                         f"{MAX_RESCUES} times before finishing, and "
                                         f"{job.platform} shows it did not go out; check "
                                         "the workers' logs, then retry.")
        return await publisher.publish(job)

    def _in_flight(self, job: PublishJob) -> float:
        """Seconds until a commit call cut off from its worker can no longer land.

        A worker that died or lost its lease mid-commit may have its call still on the
        wire (or the platform still working on it): "not found" proves nothing until the
        call would have timed out. Calls that were answered, even with an error, are over.
        """
        at = job.history.committing_at
        if at is None or not job.history.commit_cut_off:
            return 0.0
        return (at + timedelta(seconds=self.in_flight_seconds) - self.clock()).total_seconds()

    async def _honour_pause(self, job: PublishJob, pause: AccountPause | None) -> None:
        """The platform advised keeping the account away a while (e.g. Meta's usage near its
        budget, before it throttles): back it off for every worker."""
        if pause is None:
            return
        log.warning("%s %s for account %s; pausing it %.0fs", job.platform, pause.reason,
                    job.account.name, pause.seconds)
        await asyncio.to_thread(back_off_account, self.engine, job.account.id,
                                utcnow() + timedelta(seconds=pause.seconds))

    async def _reconcile(self, publisher: Publisher, job: PublishJob) -> PublishResult | None:
        """Did the earlier, unfinished commit go out? Raises when nobody can tell."""
        if not isinstance(publisher, Reconciler):
            raise _Unsettled(f"An earlier attempt was cut off while publishing, and "
                             f"{job.platform} posts cannot be checked after the fact; check "
                             "the account, then retry or cancel.")
        log.info("post %s: reconciling an earlier attempt cut off mid-commit", job.post_id)
        try:
            result = await publisher.reconcile(job)
        except OutcomeUnknownError as exc:
            # Not settled yet (a 5xx on the check, say): try again later; once its budget
            # runs out the post becomes `unconfirmed` (see Outcome.unknown).
            raise _NotYet(exc.message, code=exc.code, unreachable=exc.unreachable) from None
        return result

    async def _failed(self, claim: Claim, job: PublishJob, exc: PublishError,
                      phase: Phase, *, unsettled: bool) -> Outcome:
        code = exc.code or exc.kind
        if isinstance(exc, Cancelled):
            return Outcome(claim, AttemptOutcome.CANCELLED, error_code=code,
                           error_message=exc.message, phase=Phase.CANCELLED)
        if isinstance(exc, _Unsettled):
            return _unconfirmed(claim, exc.message)
        if isinstance(exc, _NotYet):
            # A final check the platform answered without settling it is the end; one that
            # could not reach the platform says nothing about the post: retry it later,
            # within the retry budget (it spends no attempt), still only checking.
            if job.history.final_check and not exc.retry_after and not exc.unreachable:
                return _unconfirmed(claim, f"{exc.message} Its workers stopped "
                                           f"{MAX_RESCUES} times while publishing it.")
            return Outcome(claim, RETRY, error_code=code, unknown=True,
                           not_before=_after(exc.retry_after), error_message=exc.message,
                           next_step="Herald will check again.",
                           unreachable=exc.unreachable)
        if isinstance(exc, OutcomeUnknownError):
            # The platform may have the post. Never resend blindly: retry, and the next
            # attempt reconciles (checks the platform) before it sends anything.
            return Outcome(claim, RETRY, error_code=code, unknown=True,
                           error_message=exc.message, next_step=CHECK_BEFORE_RETRY,
                           phase=Phase.COMMITTING, unreachable=exc.unreachable)
        if isinstance(exc, NeedsReauthError):
            await asyncio.to_thread(mark_needs_reauth, self.engine, job.account.id, exc.message)
        if unsettled and not isinstance(exc, TransientError):
            # The check was refused, not the post: an earlier commit may still be out.
            return _unconfirmed(claim, f"{exc.message} An earlier attempt may have posted "
                                       "it, and Herald could not check; look at the account.")
        if isinstance(exc, NeedsReauthError):
            return Outcome(claim, FAILED, error_code=code,
                           error_message=f"{exc.message} Reconnect the account "
                                         f"{job.account.name!r}, then retry the post.")
        # A definite refusal of the commit: nothing went out, nothing to reconcile later.
        refused = Phase.REFUSED if phase in COMMIT_PHASES else None
        if isinstance(exc, PermanentError):
            return Outcome(claim, FAILED, error_code=code, error_message=exc.message,
                           phase=refused)
        if isinstance(exc, TransientError):
            not_before = None
            if exc.retry_after:
                not_before = utcnow() + timedelta(seconds=exc.retry_after)
            if isinstance(exc, RateLimitedError) and not_before is not None:
                await asyncio.to_thread(back_off_account, self.engine, job.account.id,
                                        not_before)
            return Outcome(claim, RETRY, error_code=code, error_message=exc.message,
                           not_before=not_before, phase=refused, unknown=unsettled,
                           unreachable=exc.unreachable,
                           next_step=CHECK_BEFORE_RETRY if unsettled else None)
        return Outcome(claim, FAILED, error_code=code, error_message=exc.message)


class Cancelled(PermanentError):
    """Cancelled before it was sent."""

    kind = "cancelled"


class _Unsettled(OutcomeUnknownError):
    """Nobody can tell whether the post went out (the platform cannot be checked)."""


class _NotYet(OutcomeUnknownError):
    """Reconciliation could not tell this time whether the post went out."""

    def __init__(self, message: str, *, code: str | None = None,
                 retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(message, code=code, unreachable=unreachable)
        self.retry_after = retry_after


def needs_reconciling(history: History) -> bool:
    """An earlier attempt reached the commit and no attempt since learned its result."""
    return history.unsettled_commit


def _after(seconds: float | None) -> datetime | None:
    return utcnow() + timedelta(seconds=seconds) if seconds else None


def _unconfirmed(claim: Claim, message: str) -> Outcome:
    return Outcome(claim, AttemptOutcome.UNCONFIRMED, error_code="outcome_unknown",
                   error_message=message)


def mark_needs_reauth(engine: Engine, account_id: str, reason: str) -> None:
    """Mark the account; the first time, its `account.needs_reauth` event commits with it."""
    with engine.begin() as conn:
        values = {"state": "needs_reauth", "state_reason": reason, "updated_at": utcnow()}
        newly = conn.execute(update(accounts).where(
            accounts.c.id == account_id, accounts.c.state != "needs_reauth").values(**values))
        if newly.rowcount:
            events.record(conn, events.EventType.ACCOUNT_NEEDS_REAUTH, [account_id])
        else:
            conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))


def back_off_account(engine: Engine, account_id: str, until: datetime) -> None:
    """Keep an account away from its platform until `until`, for every worker."""
    with engine.begin() as conn:
        conn.execute(
            update(accounts).where(accounts.c.id == account_id,
                                   or_(accounts.c.backoff_until.is_(None),
                                       accounts.c.backoff_until < until))
            .values(backoff_until=until, updated_at=utcnow())
        )
        deferred = queue.defer_account(conn, account_id=account_id, until=until)
    log.warning("account %s backed off until %s (%d pending posts held)", account_id,
                until.isoformat(timespec="seconds"), deferred)
