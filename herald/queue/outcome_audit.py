"""The worker's outcomes in the audit log: a post published, failed, unconfirmed, or
cancelled at the worker's last check, by the actor "worker".

Written by the statements that settle the posts (herald.queue.endings), in their
transaction, so an outcome and its entry commit together, as a person's change and its
entry do (herald.services.audit, which the queue must not import: it imports the queue).
One SELECT of the posts' companies and one INSERT for a whole batch of outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select

from herald.models import AuditEntry
from herald.queue.tables import posts
from herald.statuses import PostStatus

audit_t = cast(Table, AuditEntry.__table__)
ACTOR = "worker"
#: The audit actions of the outcomes (herald.services.audit.Action has the same).
ACTIONS = {PostStatus.PUBLISHED: "post.published", PostStatus.FAILED: "post.failed",
           PostStatus.UNCONFIRMED: "post.unconfirmed", PostStatus.CANCELLED: "post.cancelled"}
#: What an outcome's entry keeps of the post, after (before, it was "processing").
FIELDS = ("status", "external_post_id", "permalink", "error_message")


def record(conn: Connection, outcomes: Sequence[Mapping[str, Any]], *, now: datetime) -> None:
    """An entry per settled post: each outcome maps "post_id" and the post's FIELDS."""
    wanted = [o for o in outcomes if o["status"] in ACTIONS]
    if not wanted:
        return
    owners = {r.id: r for r in conn.execute(
        select(posts.c.id, posts.c.company_id, posts.c.account_id)
        .where(posts.c.id.in_([o["post_id"] for o in wanted])))}
    rows = [{"company_id": owner.company_id, "at": now, "actor": ACTOR,
             "action": ACTIONS[PostStatus(o["status"])], "post_id": o["post_id"],
             "account_id": owner.account_id, "before": {"status": PostStatus.PROCESSING.value},
             "after": {k: _plain(o.get(k)) for k in FIELDS if o.get(k) is not None}}
            for o in wanted if (owner := owners.get(o["post_id"])) is not None]
    if rows:
        conn.execute(insert(audit_t), rows[0] if len(rows) == 1 else rows)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, PostStatus) else value
