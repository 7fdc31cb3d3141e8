"""The one seam between the queue and a database engine; each engine's SQL in its module.

The queue's statements are portable except for these: claiming a batch of rows, setting
each of many rows to its own values in one statement, waking listeners, the lock that
serialises claimers counting against the platform caps, and an id-list predicate that
keeps one statement text whatever the batch size.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, Select, Table, update
from sqlalchemy.exc import OperationalError

from herald.queue.tables import posts, schedule

#: Column kinds `bulk_update` knows how to declare: "str" | "int" | "time" | "json".
Columns = Mapping[str, str]


class Dialect(Protocol):
    """What the queue needs from an engine beyond portable SQLAlchemy."""

    name: str

    def claim_rows(self, conn: Connection, where: Sequence[ColumnElement[bool]],
                   values: Mapping[str, Any], limit: int) -> list[tuple[str, int]]:
        """Set `values` on up to `limit` rows matching `where`, by run_at, skipping rows
        other claimers hold; returns (post id, attempts after the update) per row."""
        ...

    def bulk_update(self, conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
                    columns: Columns, *, where_running: bool = False) -> None:
        """Give each row of `table` (by id in "b_post") its own values in ONE statement."""
        ...

    def notify(self, conn: Connection) -> None:
        """Wake listening workers when the transaction commits (a no-op without LISTEN)."""
        ...

    def lock_caps(self, conn: Connection) -> None:
        """Take the lock claimers hold while they count posts in flight per platform."""
        ...

    def unlock_caps(self, conn: Connection) -> None:
        """Release it, after the claims are committed (called whether or not they were)."""
        ...

    def among(self, column: ColumnElement[Any], ids: Sequence[str]) -> ColumnElement[bool]:
        """`column IN ids`, in the form this engine plans best."""
        ...

    def skip_locked(self, stmt: Select[Any]) -> Select[Any]:
        """Lock the rows `stmt` reads, skipping those another transaction holds."""
        ...

    def is_deadlock(self, exc: OperationalError) -> bool:
        """Whether the engine chose this transaction as a deadlock victim."""
        ...


@functools.cache
def dialect_for(name: str) -> Dialect:
    """The dialect of an engine, by SQLAlchemy's dialect name."""
    from herald.queue.dialects import mysql, postgresql, sqlite

    dialects: dict[str, Dialect] = {"postgresql": postgresql.PostgreSQL(),
                                    "mysql": mysql.MySQL(), "sqlite": sqlite.SQLite()}
    try:
        return dialects[name]
    except KeyError:
        raise ValueError(f"Herald's queue does not support the {name!r} engine.") from None


def claim_returning(conn: Connection, due: Select[Any], values: Mapping[str, Any]
                    ) -> list[tuple[str, int]]:
    """Claim the rows `due` selects in one UPDATE … RETURNING (PostgreSQL, SQLite)."""
    stmt = (
        update(schedule)
        .where(schedule.c.post_id.in_(due.scalar_subquery()))
        .values(**values)
        .returning(schedule.c.post_id, schedule.c.attempts)
    )
    return [(r.post_id, r.attempts) for r in conn.execute(stmt)]


def bulk_parts(table: Table, rows: Sequence[Mapping[str, Any]], columns: Columns,
               where_running: bool) -> tuple[str, str, str]:
    """What every engine's bulk update shares: the key column, the "running" filter and
    the JSON array of rows that the statement reads as a table.

    executemany sends a statement per row, and a CASE per column recompiles per batch
    size; a JSON array of rows read as a table (json_to_recordset, JSON_TABLE,
    json_each) keeps one fixed statement text that every engine plans once.
    """
    key = "id" if table is posts else "post_id"
    # The journal row of a claim is its post's one attempt still "running".
    running = " AND t.outcome = 'running'" if where_running else ""
    payload = json.dumps([{"id": r["b_post"], **{c: _json_value(r[c]) for c in columns}}
                          for r in rows])
    return key, running, payload


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # Naive UTC in the format SQLAlchemy stores on SQLite, which PostgreSQL and
        # MariaDB read as well.
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value
