"""The event types (contract: receivers branch on these strings)."""

from __future__ import annotations

from enum import StrEnum

from herald.statuses import PostStatus


class EventType(StrEnum):
    POST_PUBLISHED = "post.published"
    POST_FAILED = "post.failed"
    POST_UNCONFIRMED = "post.unconfirmed"
    POST_CANCELLED = "post.cancelled"
    #: A post's first comment went out (right after the post, or retried alone).
    COMMENT_PUBLISHED = "comment.published"
    #: A post's first comment failed; the post stays published (retry the comment alone).
    COMMENT_FAILED = "comment.failed"
    ACCOUNT_NEEDS_REAUTH = "account.needs_reauth"
    #: A post awaits approval (created, scheduled or edited by someone who needs it).
    APPROVAL_REQUESTED = "approval.requested"
    #: A post awaiting approval was approved (now pending) or rejected (back to draft).
    APPROVAL_DECIDED = "approval.decided"
    #: Someone commented in a post's thread (the team's or the client's comment, in
    #: Herald: not a comment on the platform). Its subject is the comment.
    THREAD_COMMENTED = "thread.commented"
    #: A comment mentions members (`data.mentions`, user ids); people are told only of
    #: the mentions of themselves.
    THREAD_MENTIONED = "thread.mentioned"
    #: A webhook whose receiver kept failing was turned off.
    WEBHOOK_DISABLED = "webhook.disabled"
    #: Only sent by `POST /api/v1/webhooks/{id}/ping`, to that webhook.
    WEBHOOK_PING = "webhook.ping"


#: What a webhook or a person can ask for (a ping is never subscribed to).
SUBSCRIBABLE = tuple(t for t in EventType if t != EventType.WEBHOOK_PING)

_BY_POST_STATUS = {
    PostStatus.PUBLISHED: EventType.POST_PUBLISHED,
    PostStatus.FAILED: EventType.POST_FAILED,
    PostStatus.UNCONFIRMED: EventType.POST_UNCONFIRMED,
    PostStatus.CANCELLED: EventType.POST_CANCELLED,
}


def event_for_post_status(status: str) -> EventType | None:
    """The event a post's move to `status` makes (None: no event, e.g. back to pending)."""
    return _BY_POST_STATUS.get(PostStatus(status))
