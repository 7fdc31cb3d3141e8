"""Retention: events, webhook deliveries and notification sends older than
HERALD_EVENT_RETENTION_DAYS are deleted by the workers' housekeeping.

A delivery or send is deleted once it is finished (delivered or failed) and older than the
retention; an event once it is dispatched, older, and no delivery or send left names it
(a waiting delivery, or one that can still be redelivered, needs its event). Each batch
is its own short transaction, so a purge never holds locks the queue waits on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Table, delete, exists, select

from herald.events.outbox import events_t
from herald.queue import deliveries as dq

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True)
class Purged:
    events: int = 0
    deliveries: int = 0
    sends: int = 0

    @property
    def total(self) -> int:
        return self.events + self.deliveries + self.sends


def purge(engine: Engine, *, now: datetime, keep: timedelta, batch: int = BATCH) -> Purged:
    """Delete what is older than `keep` (deliveries and sends first: they free events)."""
    before = now - keep

    def finished(table: Table) -> Callable[[Connection], int]:
        return lambda conn: dq.purge_finished(conn, table, before=before, limit=batch)

    done = Purged(deliveries=_until_done(engine, finished(dq.deliveries_t)),
                  sends=_until_done(engine, finished(dq.sends_t)),
                  events=_until_done(engine, lambda conn: _events(conn, before, batch)))
    if done.total:
        log.info("events: retention deleted %d event(s), %d webhook delivery(ies) and %d "
                 "notification(s) older than %s", done.events, done.deliveries, done.sends,
                 before.isoformat(timespec="seconds"))
    return done


def _until_done(engine: Engine, step: Callable[[Connection], int]) -> int:
    total = 0
    while deleted := _batch(engine, step):
        total += deleted
    return total


def _batch(engine: Engine, step: Callable[[Connection], int]) -> int:
    with engine.begin() as conn:
        return step(conn)


def _events(conn: Connection, before: datetime, batch: int) -> int:
    e, d, s = events_t.c, dq.deliveries_t.c, dq.sends_t.c
    seqs = conn.execute(
        select(e.seq).where(
            e.dispatched_at.is_not(None), e.created_at < before,
            ~exists().where(d.event_id == e.id), ~exists().where(s.event_id == e.id))
        .order_by(e.seq).limit(batch)).scalars().all()
    if not seqs:
        return 0
    return conn.execute(delete(events_t).where(e.seq.in_(seqs))).rowcount
