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
    """How long a retried post waits."""

    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    rand: Callable[[], float] = random.random

    def run_at(self, attempt: int, *, now: datetime, not_before: datetime | None) -> datetime:
        """The backoff after `attempt`, but never before what the platform allows."""
        delay = backoff_seconds(attempt, base=self.base_seconds, cap=self.max_seconds,
                                rand=self.rand)
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


@dataclass(frozen=True)
class Decision:
    """What an outcome becomes: its final kind and message, and when a retry runs."""

    kind: AttemptOutcome
    message: str | None
    run_at: datetime | None = None

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


def decide(outcome: Outcome, held: Held, *, now: datetime, retry: Retry) -> Decision:
    """Rewrite a worker's outcome by what the queue knows: a cancel requested meanwhile,
    the attempt budget; a retry gets its run time."""
    kind, message = AttemptOutcome(outcome.kind), outcome.error_message
    if held.cancel_requested and kind in (AttemptOutcome.RETRY, AttemptOutcome.FAILED) \
            and not outcome.unknown:
        kind, message = AttemptOutcome.CANCELLED, CANCELLED_BEFORE_SENT
    elif held.cancel_requested and kind == AttemptOutcome.PUBLISHED:
        message = CANCELLED_TOO_LATE
    elif kind == AttemptOutcome.RETRY and held.attempt >= held.max_attempts:
        # A retry whose commit may be out must not be called `failed`.
        kind = AttemptOutcome.UNCONFIRMED if outcome.unknown else AttemptOutcome.FAILED
        message = f"{message} (gave up after {held.attempt} attempts)"
    if kind != AttemptOutcome.RETRY:
        return Decision(kind, message)
    return Decision(kind, message,
                    retry.run_at(held.attempt, now=now, not_before=outcome.not_before))


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
        maybe_out = n >= MAX_RESCUES and (
            lease.phase == Phase.COMMITTING
            or (history is not None and history.unsettled_commit))
        if n < MAX_RESCUES or (n == MAX_RESCUES and maybe_out):
            (counted if _started(lease) else requeue).append(lease.post_id)
        else:
            (unconfirmed if maybe_out else failed).append(lease.post_id)
    return Rescue(tuple(requeue), tuple(counted), tuple(failed), tuple(unconfirmed))
