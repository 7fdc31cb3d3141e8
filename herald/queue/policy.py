"""What the queue decides, as pure functions of rows and a clock: retries, backoff, rescues.

No I/O here: herald.queue.leases reads the rows, asks, and writes what was decided.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from herald.platforms.base import History
from herald.queue.claims import Outcome
from herald.statuses import AttemptOutcome, Phase, PostStatus, QueueStatus

#: A post whose lease ran out this many times is failed rather than tried again:
#: something about it keeps killing or hanging workers.
MAX_RESCUES = 3

CANCELLED_BEFORE_SENT = "Cancelled before it was sent."
CANCELLED_TOO_LATE = ("A cancel arrived after the post had been sent; it stays "
                      "published. Delete it on the platform if it should go.")
WORKERS_STOPPED = (f"The worker publishing this post stopped {MAX_RESCUES} times "
                   "before finishing; check the workers' logs, then retry.")
WORKERS_STOPPED_MID_COMMIT = (WORKERS_STOPPED + " It was being posted when its worker "
                              "stopped, so it may be live: check the account.")


def backoff_seconds(
    attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with jitter: base·2^(n-1), capped, times a random [0.5, 1)."""
    ceiling = min(cap, base * 2.0 ** max(0, attempt - 1))
    return ceiling * (0.5 + rand() / 2)


@dataclass(frozen=True)
class Retry:
    """How long a retried post waits, and how long it keeps being retried."""

    base_seconds: float = 30.0
    max_seconds: float = 60.0
    rand: Callable[[], float] = random.random
    #: A post is retried for at least this long after its first retry (retry_deadline).
    budget_seconds: float = 6 * 3600.0
    #: The first delay after an attempt that could not reach the platform.
    unreachable_seconds: float = 2.0

    def run_at(self, attempt: int, *, now: datetime, not_before: datetime | None,
               unreachable: bool = False) -> datetime:
        """The backoff after `attempt`, but never before what the platform allows."""
        base = self.unreachable_seconds if unreachable else self.base_seconds
        delay = backoff_seconds(attempt, base=base, cap=self.max_seconds, rand=self.rand)
        run_at = now + timedelta(seconds=delay)
        if not_before is not None and not_before > run_at:
            run_at = not_before
        return run_at


@dataclass(frozen=True)
class Held:
    """A claimed queue row as `finish` finds it, locked."""

    attempt: int
    max_attempts: int
    cancel_requested: bool
    #: The end of its time budget; None before its first retry.
    deadline: datetime | None = None
    #: Its post's platform and account (for herald.queue.health).
    platform: str = ""
    account_id: str = ""


@dataclass(frozen=True)
class Decision:
    """What an outcome becomes: its final kind and message; for a retry, when it runs,
    its attempt count (one more when this attempt spent none) and its budget's end."""

    kind: AttemptOutcome
    message: str | None
    run_at: datetime | None = None
    max_attempts: int | None = None
    deadline: datetime | None = None

    @property
    def post_status(self) -> PostStatus:
        return PostStatus(self.kind)

    @property
    def queue_status(self) -> QueueStatus:
        if self.kind == AttemptOutcome.PUBLISHED:
            return QueueStatus.DONE
        if self.kind == AttemptOutcome.CANCELLED:
            return QueueStatus.CANCELLED
        return QueueStatus.FAILED


def spends_no_attempt(outcome: Outcome) -> bool:
    """An attempt that could not reach the platform and sent nothing (or only checked
    whether an earlier commit went out) is not counted: a platform that is away says
    nothing about the post. A commit that got no answer may be out: it counts."""
    return outcome.unreachable and outcome.phase != Phase.COMMITTING


def decide(outcome: Outcome, held: Held, *, now: datetime, retry: Retry) -> Decision:
    """Rewrite a worker's outcome by what the queue knows: a cancel requested meanwhile,
    the retry budget; a retry gets its run time.

    A retry gives up only once its time budget has run out AND, for an attempt that
    reached the platform, its attempt count is spent too: a platform away for an hour
    does not fail posts, and neither do three unlucky 5xx in a row.
    """
    kind, message = AttemptOutcome(outcome.kind), outcome.error_message
    if held.cancel_requested and kind in (AttemptOutcome.RETRY, AttemptOutcome.FAILED) \
            and not outcome.unknown:
        kind, message = AttemptOutcome.CANCELLED, CANCELLED_BEFORE_SENT
    elif held.cancel_requested and kind == AttemptOutcome.PUBLISHED:
        message = CANCELLED_TOO_LATE
    if kind != AttemptOutcome.RETRY:
        return Decision(kind, message)
    # With no time budget the count alone bounds retries: every attempt spends one.
    free = spends_no_attempt(outcome) and retry.budget_seconds > 0
    deadline = held.deadline or now + timedelta(seconds=retry.budget_seconds)
    if now >= deadline and (free or held.attempt >= held.max_attempts):
        return _give_up(outcome, held, deadline - timedelta(seconds=retry.budget_seconds),
                        now)
    run_at = retry.run_at(held.attempt, now=now, not_before=outcome.not_before,
                          unreachable=free)
    return Decision(kind, _sentences(message, outcome.next_step), run_at,
                    max_attempts=held.max_attempts + free, deadline=deadline)


def _give_up(outcome: Outcome, held: Held, since: datetime, now: datetime) -> Decision:
    tried = f"{held.attempt} attempt{'s' * (held.attempt != 1)}"
    seconds = (now - since).total_seconds()
    if seconds >= 1:
        tried = f"{tried} over {_span(seconds)}"
    if outcome.unknown:
        # A retry whose commit may be out must not be called `failed`, nor promise a check.
        return Decision(AttemptOutcome.UNCONFIRMED, _sentences(
            outcome.error_message,
            f"Herald could not find out whether it went out ({tried}); look "
            "at the account, then retry or cancel it."))
    return Decision(AttemptOutcome.FAILED,
                    f"{outcome.error_message} (gave up after {tried})")


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{round(seconds)} s"
    if seconds < 2 * 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h".replace(".0 h", " h")


def _sentences(*parts: str | None) -> str | None:
    said = " ".join(p.strip() for p in parts if p and p.strip())
    return said or None


def is_final_check(rescues: int) -> bool:
    """A post rescued this often was put back only for one reconcile-only attempt."""
    return rescues >= MAX_RESCUES


@dataclass(frozen=True)
class Expired:
    """A lease that ran out: its post, its counted rescues, its running attempt's phase."""

    post_id: str
    rescues: int
    #: None when the attempt has no journal row.
    phase: str | None


@dataclass(frozen=True)
class Rescue:
    """What becomes of the posts whose lease ran out, by post id, in the rows' order."""

    #: Back to pending with their attempt back; the lease does not count as a rescue.
    requeue: tuple[str, ...] = ()
    #: Back to pending with their attempt back; the lease counts as a rescue.
    requeue_counted: tuple[str, ...] = ()
    #: Given up: `failed`, with WORKERS_STOPPED.
    failed: tuple[str, ...] = ()
    #: Given up, but it may be out: `unconfirmed`, with WORKERS_STOPPED_MID_COMMIT.
    unconfirmed: tuple[str, ...] = ()

    @property
    def back(self) -> tuple[str, ...]:
        return self.requeue + self.requeue_counted

    @property
    def dead(self) -> tuple[str, ...]:
        return self.failed + self.unconfirmed


def _started(lease: Expired) -> bool:
    # Only a lease lost while publishing counts towards the limit: posts a worker had
    # claimed but not started when it died did nothing to deserve it.
    return lease.phase is not None and lease.phase != Phase.CLAIMED


def _counted(lease: Expired) -> int:
    return lease.rescues + _started(lease)


def needs_history(expired: Sequence[Expired]) -> list[str]:
    """The posts whose journal the rescue decision reads: only those at the limit (the
    others go back anyway)."""
    return [e.post_id for e in expired if _counted(e) >= MAX_RESCUES]


def decide_rescue(expired: Sequence[Expired], histories: Mapping[str, History]) -> Rescue:
    """Which posts go back (with or without a counted rescue), which are given up.

    At the limit, a post that may be out gets one last attempt that only checks the
    platform (its History says `final_check`): workers being killed is no reason to
    leave unconfirmed a post the platform can settle. One that died mid-commit past the
    limit may be out: it is `unconfirmed` rather than `failed`.
    """
    requeue: list[str] = []
    counted: list[str] = []
    failed: list[str] = []
    unconfirmed: list[str] = []
    for lease in expired:
        n = _counted(lease)
        history = histories.get(lease.post_id)
        # Stopped while commenting: the post is out, so never `failed`; the last attempt
        # settles it as published (and only looks for its comment).
        maybe_out = n >= MAX_RESCUES and (
            lease.phase in (Phase.COMMITTING, Phase.COMMENTING)
            or (history is not None and (history.unsettled_commit or history.post_out)))
        if n < MAX_RESCUES or (n == MAX_RESCUES and maybe_out):
            (counted if _started(lease) else requeue).append(lease.post_id)
        else:
            (unconfirmed if maybe_out else failed).append(lease.post_id)
    return Rescue(tuple(requeue), tuple(counted), tuple(failed), tuple(unconfirmed))
