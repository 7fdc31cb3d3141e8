"""The deliveries' queue: webhook deliveries and notification sends, claimed like posts.

Each row is a lease while a worker sends it: claimed with SKIP LOCKED (an IMMEDIATE
transaction on SQLite), finished by a write conditional on (status, worker, attempt)
still being what the claimer saw, and rescued by any worker once its lease ran out. A
worker killed mid-send leaves its row `processing`; the rescue puts it back, and it goes
out again with the same event id: at-least-once, and the receiver de-duplicates.

Only this module writes the queue columns of `webhook_deliveries` and
`notification_sends` (status, run_at, attempts, worker_id, lease_expires_at).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, delete, exists, func, insert, select, update

from herald.models import NotificationSend, Webhook, WebhookDelivery
from herald.queue.dialects import Dialect
from herald.queue.policy import Retry
from herald.statuses import DeliveryStatus

deliveries_t = cast(Table, WebhookDelivery.__table__)
sends_t = cast(Table, NotificationSend.__table__)
webhooks_t = cast(Table, Webhook.__table__)

PENDING, PROCESSING = DeliveryStatus.PENDING, DeliveryStatus.PROCESSING
#: The start of a receiver's answer kept in the delivery log.
MAX_LOGGED_BODY = 1000


@dataclass(frozen=True)
class Lease:
    """One claimed delivery (or send), held by one worker for one attempt."""

    id: str
    attempt: int
    max_attempts: int
    worker_id: str


@dataclass(frozen=True)
class Result:
    """How one attempt went, as the sender reports it."""

    lease: Lease
    ok: bool
    error_message: str | None = None
    response_status: int | None = None
    response_body: str | None = None
    duration_ms: int | None = None
    #: The earliest next try the receiver allows (Retry-After).
    not_before: datetime | None = None


def enqueue(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new pending rows (each with its id, run_at, max_attempts …)."""
    if rows:
        conn.execute(insert(table), [{"status": PENDING, "attempts": 0, **r} for r in rows])


def _due(table: Table, now: datetime) -> list[Any]:
    where: list[Any] = [table.c.status == PENDING, table.c.run_at <= now]
    if table is deliveries_t:
        # A disabled webhook's deliveries wait (enabling it again sends them), and a post's
        # deliveries to one webhook go out in the order its events happened.
        earlier = deliveries_t.alias("earlier")
        where += [
            table.c.webhook_id.in_(select(webhooks_t.c.id).where(webhooks_t.c.enabled)),
            ~exists().where(earlier.c.webhook_id == table.c.webhook_id,
                            earlier.c.subject_id == table.c.subject_id,
                            earlier.c.event_seq < table.c.event_seq,
                            earlier.c.status.in_([PENDING, PROCESSING])),
        ]
    return where


def claim(conn: Connection, dialect: Dialect, table: Table, *, worker_id: str, limit: int,
          now: datetime, lease_until: datetime) -> list[Lease]:
    """Lease up to `limit` due rows of `table`, oldest first, skipping rows others hold."""
    rows = conn.execute(dialect.skip_locked(
        select(table.c.id, table.c.attempts, table.c.max_attempts)
        .where(*_due(table, now)).order_by(table.c.run_at).limit(limit)
    )).all()
    if not rows:
        return []
    # Conditional on still pending: SQLite has no row locks (its IMMEDIATE transaction
    # serialises claimers anyway).
    conn.execute(
        update(table).where(table.c.id.in_([r.id for r in rows]), table.c.status == PENDING)
        .values(status=PROCESSING, worker_id=worker_id, lease_expires_at=lease_until,
                attempts=table.c.attempts + 1, updated_at=now))
    return [Lease(r.id, r.attempts + 1, r.max_attempts, worker_id) for r in rows]


def horizon(conn: Connection, table: Table) -> tuple[datetime | None, datetime | None]:
    """When the next pending row is due, when the first lease runs out (an idle worker's
    one cheap read per table; the due and lease indexes answer both)."""
    due = select(func.min(table.c.run_at)).where(table.c.status == PENDING)
    if table is deliveries_t:
        due = due.where(
            table.c.webhook_id.in_(select(webhooks_t.c.id).where(webhooks_t.c.enabled)))
    lease = select(func.min(table.c.lease_expires_at)).where(table.c.status == PROCESSING)
    row = conn.execute(select(due.scalar_subquery(), lease.scalar_subquery())).one()
    return row[0], row[1]


def finish(conn: Connection, table: Table, result: Result, *, now: datetime,
           retry: Retry) -> DeliveryStatus | None:
    """Record an attempt: delivered, back to pending with backoff, or failed when its
    attempts are used up. None when the lease was lost (rescued meanwhile)."""
    lease = result.lease
    status = DeliveryStatus.DELIVERED if result.ok else (
        DeliveryStatus.FAILED if lease.attempt >= lease.max_attempts else PENDING)
    values: dict[str, Any] = dict(status=status, worker_id=None, lease_expires_at=None,
                                  error_message=result.error_message, updated_at=now)
    if status == PENDING:
        values["run_at"] = retry.run_at(lease.attempt, now=now, not_before=result.not_before)
    done = "delivered_at" if table is deliveries_t else "sent_at"
    if result.ok:
        values[done] = now
    if table is deliveries_t:
        body = result.response_body
        values.update(response_status=result.response_status,
                      response_body=body[:MAX_LOGGED_BODY] if body is not None else None,
                      duration_ms=result.duration_ms)
    changed = conn.execute(
        update(table).where(table.c.id == lease.id, table.c.status == PROCESSING,
                            table.c.worker_id == lease.worker_id,
                            table.c.attempts == lease.attempt)
        .values(**values))
    return status if changed.rowcount == 1 else None


def rescue_expired(conn: Connection, table: Table, *, now: datetime) -> int:
    """Rows whose worker stopped renewing (killed, hung) go back to pending, due now.

    The lost attempt counts: a row that keeps killing workers runs out of attempts.
    """
    result = conn.execute(
        update(table).where(table.c.status == PROCESSING, table.c.lease_expires_at < now)
        .values(status=PENDING, run_at=now, worker_id=None, lease_expires_at=None,
                updated_at=now))
    return result.rowcount


def release(conn: Connection, table: Table, leases: Sequence[Lease], *, now: datetime) -> int:
    """Hand back leases never sent (a worker shutting down), their attempt uncounted."""
    released = 0
    for lease in leases:
        released += conn.execute(
            update(table).where(table.c.id == lease.id, table.c.status == PROCESSING,
                                table.c.worker_id == lease.worker_id,
                                table.c.attempts == lease.attempt)
            .values(status=PENDING, worker_id=None, lease_expires_at=None,
                    attempts=table.c.attempts - 1, updated_at=now)).rowcount
    return released


def requeue_webhook(conn: Connection, webhook_id: str, *, now: datetime) -> int:
    """A webhook enabled again: its failed deliveries are not retried, pending ones are
    due now (they waited while it was off)."""
    return conn.execute(
        update(deliveries_t).where(and_(deliveries_t.c.webhook_id == webhook_id,
                                        deliveries_t.c.status == PENDING))
        .values(run_at=now, updated_at=now)).rowcount


def purge_finished(conn: Connection, table: Table, *, before: datetime, limit: int) -> int:
    """Delete up to `limit` rows delivered or failed before `before` (retention).

    Pending and processing rows stay however old: a disabled webhook's deliveries wait
    for it to be enabled again. The ids are read first because MySQL and MariaDB refuse a
    LIMIT inside `IN (SELECT …)`.
    """
    ids = conn.execute(
        select(table.c.id).where(
            table.c.status.in_([DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]),
            table.c.updated_at < before)
        .order_by(table.c.updated_at).limit(limit)).scalars().all()
    if not ids:
        return 0
    return conn.execute(delete(table).where(table.c.id.in_(ids))).rowcount
