"""The transactional outbox: an event row written in the same transaction as its change.

A post that failed and its `post.failed` event commit together or not at all, so a
crash between "the status changed" and "the receivers were told" cannot lose the event:
the dispatcher finds every row that is not dispatched yet, however late. The write is one
INSERT of ids and a type; the company and the data are filled in by the dispatcher.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, insert

from herald.models import Event, new_id, utcnow

events_t = cast(Table, Event.__table__)


def record(conn: Connection, kind: str, subject_ids: Sequence[str], *,
           now: datetime | None = None) -> None:
    """Write one `kind` event per subject (a post, an account) in `conn`'s transaction."""
    if not subject_ids:
        return
    at = now or utcnow()
    conn.execute(insert(events_t), [
        {"id": new_id(), "type": str(kind), "subject_id": sid, "created_at": at}
        for sid in subject_ids])
