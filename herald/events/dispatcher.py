"""The dispatcher: events not yet dispatched → a delivery for each webhook that wants them.

One transaction takes a batch of events (SKIP LOCKED, so workers split them), fills in
each event's company and data, queues its deliveries, and marks it dispatched: an event
is fanned out exactly once, and a worker killed half-way leaves it for the next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON

from herald.events import payloads
from herald.events.outbox import events_t
from herald.models import new_id
from herald.queue import deliveries as dq
from herald.queue.dialects import dialect_for

#: A hook for what else an event fans out to (notifications): (conn, events, now).
FanOut = Callable[[Connection, list["Dispatched"], datetime], None]


class Dispatched:
    """An event with its company and data, as the fan-outs see it."""

    __slots__ = ("company_id", "created_at", "data", "id", "seq", "subject_id", "type")

    def __init__(self, row: Any, company_id: str, data: dict[str, Any]) -> None:
        self.seq: int = row.seq
        self.id: str = row.id
        self.type: str = row.type
        self.subject_id: str = row.subject_id
        self.created_at: datetime = row.created_at
        self.company_id = company_id
        self.data = data


def has_pending(conn: Connection) -> bool:
    """Whether any event waits (the idle worker's cheap read)."""
    return conn.execute(select(events_t.c.seq).where(events_t.c.dispatched_at.is_(None))
                        .limit(1)).first() is not None


def dispatch(engine: Engine, *, now: datetime, max_attempts: int, limit: int = 200,
             fan_outs: tuple[FanOut, ...] = ()) -> int:
    """Fan out up to `limit` events; returns how many were dispatched."""
    sql = dialect_for(engine.dialect.name)
    with engine.begin() as conn:
        rows = conn.execute(sql.skip_locked(
            select(events_t).where(events_t.c.dispatched_at.is_(None))
            .order_by(events_t.c.seq).limit(limit))).all()
        if not rows:
            return 0
        with Session(bind=conn) as session:
            loaded = payloads.prefetch(session, [(r.type, r.subject_id) for r in rows])
            described = {r.seq: payloads.describe(session, r.type, r.subject_id)
                         for r in rows}
            del loaded
        events = [Dispatched(r, *d) for r in rows if (d := described[r.seq]) is not None]
        dq.enqueue(conn, dq.deliveries_t, _deliveries(conn, events, now, max_attempts))
        for fan_out in fan_outs:
            fan_out(conn, events, now)
        _mark(conn, rows, described, now)
    return len(rows)


def _deliveries(conn: Connection, events: list[Dispatched], now: datetime,
                max_attempts: int) -> list[dict[str, Any]]:
    companies = {e.company_id for e in events}
    if not companies:
        return []
    hooks = conn.execute(
        select(dq.webhooks_t.c.id, dq.webhooks_t.c.company_id, dq.webhooks_t.c.events)
        .where(dq.webhooks_t.c.company_id.in_(companies), dq.webhooks_t.c.enabled)
        .order_by(dq.webhooks_t.c.created_at)).all()
    return [
        {"id": new_id(), "webhook_id": hook.id, "event_id": e.id, "event_seq": e.seq,
         "event_type": e.type, "subject_id": e.subject_id, "run_at": now,
         "max_attempts": max_attempts, "created_at": now, "updated_at": now}
        for e in events for hook in hooks
        if hook.company_id == e.company_id and e.type in (hook.events or [])
    ]


def _mark(conn: Connection, rows: Sequence[Any],
          described: dict[int, tuple[str, dict[str, Any]] | None], now: datetime) -> None:
    table = events_t
    conn.execute(
        update(table).where(table.c.seq == bindparam("b_seq"))
        .values(company_id=bindparam("b_company"), data=bindparam("b_data", type_=JSON()),
                dispatched_at=now),
        [{"b_seq": r.seq, "b_company": d[0] if d else None, "b_data": d[1] if d else None}
         for r in rows for d in [described[r.seq]]])
