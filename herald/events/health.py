"""A webhook's health: failing since when, and disabled (with a notice) past a day of it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, update

from herald.events.outbox import record
from herald.events.types import EventType
from herald.queue.deliveries import webhooks_t


def disabled_reason(seconds: float) -> str:
    hours = seconds / 3600
    span = f"{hours:g} hours" if hours != 1 else "an hour"
    return (f"Every delivery failed for {span}, so Herald turned this webhook off. Fix the "
            "receiver, then enable the webhook again: the deliveries waiting go out then.")


def note_attempt(conn: Connection, webhook_id: str, *, ok: bool, now: datetime,
                 disable_after: float) -> bool:
    """Record a delivery's result on its webhook; True when this failure disabled it."""
    w = webhooks_t.c
    if ok:
        conn.execute(update(webhooks_t).where(w.id == webhook_id, w.failing_since.isnot(None))
                     .values(failing_since=None))
        return False
    conn.execute(update(webhooks_t).where(w.id == webhook_id, w.failing_since.is_(None))
                 .values(failing_since=now))
    disabled = conn.execute(
        update(webhooks_t)
        .where(w.id == webhook_id, w.enabled,
               w.failing_since <= now - timedelta(seconds=disable_after))
        .values(enabled=False, disabled_reason=disabled_reason(disable_after),
                updated_at=now)).rowcount == 1
    if disabled:
        # The notice: an event like any other (people are told through notifications).
        record(conn, EventType.WEBHOOK_DISABLED, [webhook_id], now=now)
    return disabled
