"""The queue: every statement that reads or writes `post_schedule` lives in this package.

- store.py: the thin statements services run in their own transaction, and the worker's;
  endings.py: those that end a claim (finish, release, rescue);
- dialects/: each engine's SQL behind one small protocol;
- policy.py: the retry, backoff and rescue decisions, pure;
- journal.py: the journal read back as a typed History;
- leases.py: `Queue`, the worker's side, which owns the transactions;
- health.py: platforms and accounts that do not answer, held as down and probed;
- listen.py (LISTEN/NOTIFY), stats.py (monitoring).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement

from herald.queue.claims import CancelRequested, Claim, Horizon, LeaseLost, Outcome
from herald.queue.dialects import Dialect, dialect_for
from herald.queue.dialects.mysql import CAPS_LOCK_NAME
from herald.queue.dialects.postgresql import CAPS_LOCK_KEY
from herald.queue.health import waiting_for
from herald.queue.journal import (
    PAST_RECONCILIATION,
    UNKNOWN_ENDINGS,
    AttemptOutcome,
    History,
    Phase,
)
from herald.queue.leases import Queue
from herald.queue.listen import NOTIFY_CHANNEL, listen
from herald.queue.policy import MAX_RESCUES, backoff_seconds
from herald.queue.store import (
    cancel,
    defer_account,
    dismiss,
    enqueue,
    enqueue_many,
    forget_account,
    forget_posts,
    lock_for_edit,
    next_run_at,
    notify,
    queue_status,
    requeue,
    requeue_follow_up,
    reschedule,
    withdraw,
)
from herald.queue.tables import attempts_t, posts, schedule

__all__ = [
    "CAPS_LOCK_KEY", "CAPS_LOCK_NAME", "MAX_RESCUES", "NOTIFY_CHANNEL", "PAST_RECONCILIATION",
    "UNKNOWN_ENDINGS", "AttemptOutcome", "CancelRequested", "Claim", "Dialect", "History",
    "Horizon", "LeaseLost", "Outcome", "Phase", "Queue", "among", "attempts_t",
    "backoff_seconds", "cancel", "defer_account", "dialect_for", "dismiss", "enqueue",
    "enqueue_many", "forget_account", "forget_posts", "listen", "lock_for_edit",
    "next_run_at", "notify", "posts", "queue_status", "requeue", "requeue_follow_up",
    "reschedule", "schedule", "waiting_for", "withdraw",
]


def among(column: ColumnElement[Any], ids: Sequence[str], dialect: str) -> ColumnElement[bool]:
    """`column IN ids`, as the engine named `dialect` plans best (see the dialects)."""
    return dialect_for(dialect).among(column, ids)
