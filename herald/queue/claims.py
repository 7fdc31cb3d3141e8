"""A claim on a post, and what the worker holding it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from herald.statuses import AttemptOutcome, Phase


class CancelRequested(Exception):
    """The post was cancelled while this worker held it, before its commit."""


class LeaseLost(Exception):
    """This worker no longer holds the claim (its lease was rescued)."""


@dataclass(frozen=True)
class Claim:
    """A lease on one post, held by one worker for one attempt."""

    post_id: str
    attempt: int
    worker_id: str


@dataclass(frozen=True)
class Horizon:
    """What a poll reads: when the next post is due, when the first lease runs out, and
    what time it is by the database's clock (herald.dbclock)."""

    due: datetime | None
    lease: datetime | None
    now: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """How one claimed attempt ended, as the worker reports it."""

    claim: Claim
    #: published, retry, failed, unconfirmed or cancelled (never running or lease_expired).
    kind: AttemptOutcome
    external_id: str | None = None
    permalink: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    #: For retries: the earliest time the platform allows (Retry-After and the like).
    not_before: datetime | None = None
    phase: Phase | None = None
    platform_ids: dict[str, Any] = field(default_factory=dict)
    #: A retry whose last commit may have gone out: the next attempt reconciles first,
    #: and if attempts run out the post is `unconfirmed`, never `failed`.
    unknown: bool = False
    #: The attempt failed because the platform could not be reached (a network failure,
    #: a timeout, a 5xx). Unless it was the commit's, such an attempt sent nothing and
    #: spends none of the post's attempt count (policy.decide).
    unreachable: bool = False
    #: For retries: what Herald does next ("Herald will check whether it went out…"),
    #: said after error_message while the post waits, dropped once it gives up.
    next_step: str | None = None
    #: The post was already `published`: the attempt only retried its first comment, so
    #: it settles the queue row and leaves the post (and its published event) alone.
    follow_up: bool = False
