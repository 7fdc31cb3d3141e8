"""The audit log: who did what, with the before and after of what changed.

Each use case writes its entry in its own transaction, so a change and its entry are
committed together or not at all. Entries are never changed; they are kept as long as
the company wants: for good, or `audit_retention_days` (the workers' housekeeping
deletes older ones, once an hour: `Housekeeping`).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Engine, Table, delete, insert, select
from sqlalchemy.orm import Session

from herald import events
from herald.errors import Invalid
from herald.models import AuditEntry, Company, Post
from herald.permissions import Permission
from herald.services.context import Context
from herald.statuses import PostStatus

log = logging.getLogger(__name__)
_audit = cast(Table, AuditEntry.__table__)
#: Entries deleted per transaction by a purge (short transactions: no long locks).
PURGE_BATCH = 1000
#: How often a worker purges entries past their company's retention.
PURGE_EVERY_SECONDS = 3600.0
_INSERT = insert(_audit)


class Action(StrEnum):
    """What an entry records (**contract**: filters name these; added to, never renamed)."""

    POST_CREATED = "post.created"
    POST_PUBLISHED_NOW = "post.published_now"
    POST_SUBMITTED = "post.submitted"
    POST_EDITED = "post.edited"
    POST_RESCHEDULED = "post.rescheduled"
    POST_SCHEDULED = "post.scheduled"
    POST_APPROVED = "post.approved"
    POST_REJECTED = "post.rejected"
    POST_CANCELLED = "post.cancelled"
    POST_RETRIED = "post.retried"
    #: A published post's failed first comment was queued again.
    COMMENT_RETRIED = "comment.retried"
    ACCOUNT_CONNECTED = "account.connected"
    ACCOUNT_RECONNECTED = "account.reconnected"
    ACCOUNT_SETTINGS = "account.settings"
    ACCOUNT_REMOVED = "account.removed"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    MEMBER_ADDED = "member.added"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    MEMBER_INVITED = "member.invited"
    MEMBER_INVITATION_REVOKED = "member.invitation_revoked"
    COMPANY_SETTINGS = "company.settings"
    SCHEDULE_SET = "schedule.set"
    QUEUE_MOVED = "queue.moved"
    QUEUE_SHUFFLED = "queue.shuffled"
    QUEUE_PAUSED = "queue.paused"
    QUEUE_RESUMED = "queue.resumed"
    SERIES_CREATED = "series.created"
    SERIES_EDITED = "series.edited"
    SERIES_STOPPED = "series.stopped"
    REVIEW_LINK_CREATED = "review_link.created"
    REVIEW_LINK_REVOKED = "review_link.revoked"
    REVIEW_LINK_OPENED = "review_link.opened"
    #: A comment in a post's thread, and its deletion by its author.
    THREAD_COMMENTED = "thread.commented"
    THREAD_COMMENT_DELETED = "thread.comment_deleted"
    #: The worker's outcomes (actor "worker"; a cancel it honoured is post.cancelled).
    POST_PUBLISHED = "post.published"
    POST_FAILED = "post.failed"
    POST_UNCONFIRMED = "post.unconfirmed"


AWAITING = PostStatus.AWAITING_APPROVAL
#: The approvals' events, written with their entries (the outbox: herald.events).
_APPROVAL_EVENTS = {Action.POST_SUBMITTED: events.EventType.APPROVAL_REQUESTED,
                    Action.POST_APPROVED: events.EventType.APPROVAL_DECIDED,
                    Action.POST_REJECTED: events.EventType.APPROVAL_DECIDED}

#: The fields of a post an entry shows before and after.
POST_FIELDS = ("status", "caption", "media", "options", "scheduled_at", "revision",
               "account_id", "post_type", "approved_by", "review_note", "approval_step")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def post_state(post: Post | Mapping[str, Any]) -> dict[str, Any]:
    """A post's fields as JSON: what an entry keeps of it."""
    get = post.get if isinstance(post, Mapping) else (lambda k: getattr(post, k, None))
    return {name: _plain(get(name)) for name in POST_FIELDS}


def changed(before: Mapping[str, Any], after: Mapping[str, Any]
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only what differs, on both sides."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _row(ctx: Context, action: Action, *, post_id: str | None, account_id: str | None,
         before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
         ) -> dict[str, Any]:
    return {"company_id": ctx.company_id, "at": ctx.now(), "actor": (ctx.actor or "system")[:100],
            "action": action.value, "post_id": post_id, "account_id": account_id,
            "before": dict(before) if before is not None else None,
            "after": dict(after) if after is not None else None}


def record(session: Session, ctx: Context, action: Action, *, post_id: str | None = None,
           account_id: str | None = None, before: Mapping[str, Any] | None = None,
           after: Mapping[str, Any] | None = None) -> None:
    """One entry, in the caller's transaction (and an approval's event: herald.events)."""
    session.connection().execute(_INSERT, _row(ctx, action, post_id=post_id,
                                               account_id=account_id, before=before,
                                               after=after))
    kind = _APPROVAL_EVENTS.get(action)
    if kind is None and after is not None and after.get("status") == AWAITING:
        kind = events.EventType.APPROVAL_REQUESTED  # an edit sent it back for approval
    if action == Action.POST_APPROVED and after is not None and after.get("approval_step"):
        kind = events.EventType.APPROVAL_REQUESTED  # approved at a step: the next one's turn
    if kind is not None and post_id is not None:
        events.record(session.connection(), kind, [post_id], now=ctx.now())


def created_action(status: str, run_at: datetime | None, now: datetime) -> Action:
    if status == PostStatus.AWAITING_APPROVAL:
        return Action.POST_SUBMITTED
    if status == PostStatus.PENDING and run_at is not None and run_at <= now:
        return Action.POST_PUBLISHED_NOW
    return Action.POST_CREATED


def record_posts(session: Session, ctx: Context, rows: Sequence[Mapping[str, Any]], *,
                 now: datetime) -> None:
    """An entry per new post (a create of many accounts: one statement)."""
    entries = [_row(ctx, created_action(r["status"], r["scheduled_at"], now),
                    post_id=r["id"], account_id=r["account_id"], before=None,
                    after=post_state(r)) for r in rows]
    if entries:
        session.connection().execute(_INSERT, entries[0] if len(entries) == 1 else entries)
    waiting = [r["id"] for r in rows if r["status"] == AWAITING]
    events.record(session.connection(), events.EventType.APPROVAL_REQUESTED, waiting, now=now)


def record_post_change(session: Session, ctx: Context, action: Action, post: Post,
                       before: Mapping[str, Any]) -> None:
    """An entry for a change to `post`, keeping what changed on both sides."""
    session.flush()
    old, new = changed(before, post_state(post))
    record(session, ctx, action, post_id=post.id, account_id=post.account_id,
           before=old, after=new)


@dataclass(frozen=True)
class AuditFilters:
    post_id: str | None = None
    account_id: str | None = None
    actor: str | None = None
    action: str | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None


def entries(session: Session, ctx: Context, filters: AuditFilters, *,
            cursor: str | None = None, limit: int = 50
            ) -> tuple[list[AuditEntry], str | None]:
    """The company's entries, newest first, a page at a time."""
    ctx.require(Permission.VIEW_AUDIT)
    if filters.action and filters.action not in set(Action):
        raise Invalid(f"unknown action {filters.action!r}; use one of "
                      f"{', '.join(a.value for a in Action)}")
    stmt = select(AuditEntry).where(AuditEntry.company_id == ctx.company_id)
    for column, value in ((AuditEntry.post_id, filters.post_id),
                          (AuditEntry.account_id, filters.account_id),
                          (AuditEntry.actor, filters.actor),
                          (AuditEntry.action, filters.action)):
        if value:
            stmt = stmt.where(column == value)
    if filters.at_from:
        stmt = stmt.where(AuditEntry.at >= filters.at_from)
    if filters.at_to:
        stmt = stmt.where(AuditEntry.at < filters.at_to)
    if ctx.account_ids is not None:
        stmt = stmt.where(AuditEntry.account_id.in_(sorted(ctx.account_ids)))
    if cursor:
        stmt = stmt.where(AuditEntry.id < _decode(cursor))
    found = list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    if len(found) <= limit:
        return found, None
    found = found[:limit]
    return found, base64.urlsafe_b64encode(str(found[-1].id).encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Invalid("The cursor is not valid; use the next_cursor of a previous page."
                      ) from None


def purge(engine: Engine, *, now: datetime, batch: int = PURGE_BATCH) -> int:
    """Delete the entries older than their company's `audit_retention_days` (companies
    without one keep theirs for good); returns how many went."""
    with engine.connect() as conn:
        kept = conn.execute(select(Company.id, Company.audit_retention_days)
                            .where(Company.audit_retention_days.is_not(None))).all()
    total = 0
    for company_id, days in kept:
        before = now - timedelta(days=days or 0)
        while True:
            with engine.begin() as conn:
                ids = conn.execute(select(_audit.c.id).where(
                    _audit.c.company_id == company_id, _audit.c.at < before)
                    .order_by(_audit.c.id).limit(batch)).scalars().all()
                if ids:
                    total += conn.execute(delete(_audit).where(_audit.c.id.in_(ids))).rowcount
            if len(ids) < batch:
                break
    if total:
        log.info("audit: deleted %d entries past their company's retention", total)
    return total


class Housekeeping:
    """The audit log's purge, at most once every `every` seconds (the first call runs)."""

    def __init__(self, engine: Engine, *, every: float = PURGE_EVERY_SECONDS) -> None:
        self.engine = engine
        self.every = every
        self._next = 0.0

    def __call__(self, now: datetime) -> int:
        if time.monotonic() < self._next:
            return 0
        self._next = time.monotonic() + self.every
        try:
            return purge(self.engine, now=now)
        except Exception as exc:  # the next hour tries again; nothing else waits on it
            log.warning("audit: purge failed (%s)", exc)
            return 0
