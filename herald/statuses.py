"""Post and queue statuses, and the one table of the moves between them.

Post statuses are contract: API clients and scripts branch on these strings, so a value
is only ever added, never renamed. They are `StrEnum`s, so a status compares equal to its
string and is stored and serialised as one.
"""

from __future__ import annotations

from enum import StrEnum


class PostStatus(StrEnum):
    """Where a post stands, as users see it (**contract**)."""

    DRAFT = "draft"
    PENDING = "pending"
    PROCESSING = "processing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: Herald cannot tell whether the platform accepted it: a person must look.
    UNCONFIRMED = "unconfirmed"
    #: Written by a role that may not schedule, for an account (or company) that requires
    #: approval: not in the queue until an approver approves it (herald.services.approvals).
    AWAITING_APPROVAL = "awaiting_approval"


class QueueStatus(StrEnum):
    """Where a post's queue row (`post_schedule`) stands; only herald.queue writes it."""

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: Its account's queue is paused: no worker claims it until the queue is resumed.
    HELD = "held"


#: Queue rows that wait to be claimed, or would if their account's queue ran.
WAITING = frozenset({QueueStatus.PENDING, QueueStatus.HELD})


class Phase(StrEnum):
    """How far an attempt got, as its journal row (`publish_attempts.phase`) records it."""

    CLAIMED = "claimed"
    #: Idempotent steps done (uploads, containers); their ids ride along.
    PREPARED = "prepared"
    #: About to make the one non-idempotent call: written durably before it.
    COMMITTING = "committing"
    COMMITTED = "committed"
    #: The commit was answered with a definite refusal: nothing went out.
    REFUSED = "refused"
    #: An earlier, unsettled commit was checked on the platform and found out.
    RECONCILED = "reconciled"
    CANCELLED = "cancelled"
    #: The post is out; about to post its first comment: written durably before the call.
    COMMENTING = "commenting"
    #: The post is out and its first comment too.
    COMMENTED = "commented"


class AttemptOutcome(StrEnum):
    """How an attempt ended (`publish_attempts.outcome`); `running` while it goes on."""

    RUNNING = "running"
    PUBLISHED = "published"
    RETRY = "retry"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    CANCELLED = "cancelled"
    #: Its worker stopped (or stalled) and the lease was rescued.
    LEASE_EXPIRED = "lease_expired"


#: Every move a post may make, and nothing else. The queue makes the moves out of
#: pending and processing; services make those a person asks for (schedule a draft,
#: cancel, retry).
POST_TRANSITIONS: dict[PostStatus, frozenset[PostStatus]] = {
    PostStatus.DRAFT: frozenset({PostStatus.PENDING, PostStatus.AWAITING_APPROVAL}),
    PostStatus.PENDING: frozenset({
        PostStatus.PROCESSING, PostStatus.CANCELLED,
        PostStatus.AWAITING_APPROVAL,  # edited by someone whose edits need approval
    }),
    PostStatus.PROCESSING: frozenset({
        PostStatus.PENDING,  # a retry, a lease rescued, a claim handed back
        PostStatus.PUBLISHED, PostStatus.FAILED, PostStatus.UNCONFIRMED,
        PostStatus.CANCELLED,
    }),
    PostStatus.PUBLISHED: frozenset(),
    PostStatus.FAILED: frozenset({PostStatus.PENDING, PostStatus.CANCELLED}),
    PostStatus.CANCELLED: frozenset(),
    PostStatus.UNCONFIRMED: frozenset({PostStatus.PENDING, PostStatus.CANCELLED}),
    # Approved (queued), rejected (back to draft with the reason), or cancelled.
    PostStatus.AWAITING_APPROVAL: frozenset({PostStatus.PENDING, PostStatus.DRAFT,
                                             PostStatus.CANCELLED}),
}

#: A post in one of these is over: nothing will publish it unless a person retries it.
FINISHED = frozenset({PostStatus.PUBLISHED, PostStatus.FAILED, PostStatus.CANCELLED,
                      PostStatus.UNCONFIRMED})
#: A person may still edit or reschedule a post in one of these.
EDITABLE = frozenset({PostStatus.DRAFT, PostStatus.PENDING, PostStatus.AWAITING_APPROVAL})


def can_move(old: str, new: str) -> bool:
    """Whether the transition table allows a post to go from `old` to `new`."""
    return PostStatus(new) in POST_TRANSITIONS[PostStatus(old)]


class DeliveryStatus(StrEnum):
    """A webhook delivery's or a notification's status (contract: the API shows it)."""

    PENDING = "pending"
    PROCESSING = "processing"
    DELIVERED = "delivered"
    #: Every attempt failed (or the receiver cannot take it): redeliver to try again.
    FAILED = "failed"
