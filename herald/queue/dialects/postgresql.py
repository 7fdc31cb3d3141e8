"""PostgreSQL: one-round-trip claims with SKIP LOCKED, LISTEN/NOTIFY, array parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    any_,
    bindparam,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError

from herald.queue.dialects import Columns, bulk_parts, claim_returning
from herald.queue.listen import NOTIFY_CHANNEL
from herald.queue.tables import schedule

#: The advisory lock claimers hold while they count posts in flight ("herl").
CAPS_LOCK_KEY = 0x6865726C
_TYPES = {"str": "text", "int": "integer", "time": "timestamp", "json": "text"}


class PostgreSQL:
    name = "postgresql"

    def claim_rows(self, conn: Connection, where: Sequence[ColumnElement[bool]],
                   values: Mapping[str, Any], limit: int) -> list[tuple[str, int]]:
        # SKIP LOCKED: concurrent claimers take different rows instead of queueing.
        due = (select(schedule.c.post_id).where(*where).order_by(schedule.c.run_at)
               .limit(limit).with_for_update(skip_locked=True))
        return claim_returning(conn, due, values)

    def bulk_update(self, conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
                    columns: Columns, *, where_running: bool = False) -> None:
        key, running, payload = bulk_parts(table, rows, columns, where_running)
        assignments = ", ".join(f"{c} = CAST(v.{c} AS json)" if t == "json" else f"{c} = v.{c}"
                                for c, t in columns.items())
        decl = ", ".join(["id text"] + [f"{c} {_TYPES[t]}" for c, t in columns.items()])
        sql = (f"UPDATE {table.name} AS t SET {assignments} FROM json_to_recordset("
               f"CAST(:rows AS json)) AS v({decl}) WHERE t.{key} = v.id{running}")
        conn.execute(text(sql), {"rows": payload})

    def notify(self, conn: Connection) -> None:
        # For the updates that make a post due sooner; inserts notify through the trigger
        # on post_schedule (migration 0005).
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})

    def lock_caps(self, conn: Connection) -> None:
        # Ends with the transaction, once the claims are committed.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CAPS_LOCK_KEY})

    def unlock_caps(self, conn: Connection) -> None:
        return None

    def among(self, column: ColumnElement[Any], ids: Sequence[str]) -> ColumnElement[bool]:
        # An IN list has a placeholder per id, so its text changes with the batch size and
        # is long to build and parse: psycopg converts every new text again, and the
        # server parses and plans it each time. One array keeps one text, which psycopg
        # caches and, after a few runs, prepares on the server.
        return column == any_(bindparam(None, list(ids), type_=ARRAY(String)))

    def skip_locked(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.with_for_update(skip_locked=True)

    def is_deadlock(self, exc: OperationalError) -> bool:
        return False
