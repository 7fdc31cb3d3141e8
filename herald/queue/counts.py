"""The kept counts: posts by company, account and status, and queue rows by status.

Database triggers on posts and post_schedule (migration 0022) append a row to
post_counts / queue_counts for every change of a counted key: +n for the new key, -n for
the old. Rows are only appended (a single counter row per key would be a lock every
worker's completion waits on), so a count is the sum of its key's rows; `compact` folds
each key's rows into one, often enough (every minute, in the workers' housekeeping) that a
read sums a few rows per key at any size of the calendar, not one row per post.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select

from herald.models import PostCount, QueueCount

log = logging.getLogger(__name__)
post_counts_t = cast(Table, PostCount.__table__)
queue_counts_t = cast(Table, QueueCount.__table__)
#: Rows read (and locked) per compaction transaction: short transactions, no long locks.
COMPACT_BATCH = 5000
#: How often a worker compacts.
COMPACT_EVERY_SECONDS = 60.0


def posts_by_status(conn: Connection, company_id: str) -> dict[str, int]:
    """The company's posts by status (statuses with none left out)."""
    c = post_counts_t.c
    rows = conn.execute(
        select(c.status, func.sum(c.n)).where(c.company_id == company_id)
        .group_by(c.status)).all()
    return {str(status): int(n) for status, n in rows if n}


def posts_by_account(conn: Connection, company_id: str) -> dict[str, int]:
    """The company's posts per account (accounts with none left out)."""
    c = post_counts_t.c
    rows = conn.execute(
        select(c.account_id, func.sum(c.n)).where(c.company_id == company_id)
        .group_by(c.account_id)).all()
    return {str(account): int(n) for account, n in rows if n}


def queue_by_status(conn: Connection) -> dict[str, int]:
    """Queue rows by status, every company's (statuses with none left out)."""
    c = queue_counts_t.c
    rows = conn.execute(select(c.status, func.sum(c.n)).group_by(c.status)).all()
    return {str(status): int(n) for status, n in rows if n}


def compact(engine: Engine, *, batch: int = COMPACT_BATCH) -> int:
    """Fold each key's rows into one row holding their sum (none when it is 0); returns
    the rows removed.

    Each batch locks the rows it read (FOR UPDATE), deletes exactly those and inserts their
    sums, in one transaction: a trigger's row committed meanwhile is not among them and
    stays for the next run, and two compactions at once wait for each other's rows instead
    of both folding them. Readers never wait: they sum whatever rows are committed, and a
    batch's delete and insert commit together.
    """
    removed = 0
    for table in (post_counts_t, queue_counts_t):
        key = [col for col in table.c if col.name not in ("id", "n")]
        with engine.connect() as conn:
            last = conn.execute(select(func.max(table.c.id))).scalar()
        after = 0
        while last is not None and after < last:
            with engine.begin() as conn:
                rows = conn.execute(
                    select(table).where(table.c.id > after, table.c.id <= last)
                    .order_by(table.c.id).limit(batch).with_for_update()).all()
                if not rows:
                    break
                after = rows[-1].id
                removed += _fold(conn, table, [col.name for col in key], rows)
    return removed


def _fold(conn: Connection, table: Table, key: list[str], rows: Sequence[Any]) -> int:
    groups: dict[tuple[str, ...], list[Any]] = defaultdict(list)
    for row in rows:
        groups[tuple(getattr(row, k) for k in key)].append(row)
    gone: list[int] = []
    sums = []
    for values, members in groups.items():
        total = sum(r.n for r in members)
        if len(members) == 1 and total:
            continue  # already one row
        gone += [r.id for r in members]
        if total:
            sums.append({**dict(zip(key, values, strict=True)), "n": total})
    for start in range(0, len(gone), 1000):
        conn.execute(delete(table).where(table.c.id.in_(gone[start:start + 1000])))
    if sums:
        conn.execute(insert(table), sums)
    return len(gone) - len(sums)


class Compaction:
    """`compact`, at most once every `every` seconds (the first call runs)."""

    def __init__(self, engine: Engine, *, every: float = COMPACT_EVERY_SECONDS) -> None:
        self.engine = engine
        self.every = every
        self._next = 0.0

    def __call__(self, now: datetime) -> int:
        if time.monotonic() < self._next:
            return 0
        self._next = time.monotonic() + self.every
        try:
            return compact(self.engine)
        except Exception as exc:  # the next run folds them; the counts stay exact meanwhile
            log.warning("counts: compaction failed (%s)", exc)
            return 0
