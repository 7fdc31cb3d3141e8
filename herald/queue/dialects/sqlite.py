"""SQLite: one writer at a time, so the IMMEDIATE transaction is the only lock needed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, select, text
from sqlalchemy.exc import OperationalError

from herald.queue.dialects import Columns, bulk_parts, claim_returning
from herald.queue.tables import schedule


class SQLite:
    name = "sqlite"

    def claim_rows(self, conn: Connection, where: Sequence[ColumnElement[bool]],
                   values: Mapping[str, Any], limit: int) -> list[tuple[str, int]]:
        # The transaction began IMMEDIATE (herald.db), so claimers are serialised.
        due = select(schedule.c.post_id).where(*where).order_by(schedule.c.run_at).limit(limit)
        return claim_returning(conn, due, values)

    def bulk_update(self, conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
                    columns: Columns, *, where_running: bool = False) -> None:
        key, running, payload = bulk_parts(table, rows, columns, where_running)
        assignments = ", ".join(f"{c} = v.{c}" for c in columns)
        picks = ", ".join(["json_extract(value, '$.id') AS id"] + [
            f"json_extract(value, '$.{c}') AS {c}" for c in columns])
        sql = (f"UPDATE {table.name} AS t SET {assignments} FROM (SELECT {picks} FROM "
               f"json_each(:rows)) AS v WHERE t.{key} = v.id{running}")
        conn.execute(text(sql), {"rows": payload})

    def notify(self, conn: Connection) -> None:
        return None  # `herald run` wakes its worker in process; others poll

    def lock_caps(self, conn: Connection) -> None:
        return None  # the IMMEDIATE transaction already serialises claimers

    def unlock_caps(self, conn: Connection) -> None:
        return None

    def among(self, column: ColumnElement[Any], ids: Sequence[str]) -> ColumnElement[bool]:
        return column.in_(ids)

    def skip_locked(self, stmt: Select[Any]) -> Select[Any]:
        return stmt  # no row locks; the writes check the rows are still as read

    def is_deadlock(self, exc: OperationalError) -> bool:
        return False
