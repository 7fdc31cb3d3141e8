"""MariaDB ≥ 10.6 / MySQL ≥ 8: no UPDATE … RETURNING, so claims lock, then update."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, select, text, update
from sqlalchemy.exc import OperationalError

from herald.queue.dialects import Columns, bulk_parts
from herald.queue.tables import schedule

#: The GET_LOCK name claimers hold while they count posts in flight.
CAPS_LOCK_NAME = "herald_platform_caps"
_TYPES = {"str": "TEXT", "int": "INTEGER", "time": "DATETIME(6)", "json": "TEXT"}
_DEADLOCKS = (1213, 1205)  # ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT


class MySQL:
    name = "mysql"

    def claim_rows(self, conn: Connection, where: Sequence[ColumnElement[bool]],
                   values: Mapping[str, Any], limit: int) -> list[tuple[str, int]]:
        # No UPDATE … RETURNING and no LIMIT in an IN-subquery on MariaDB: lock the
        # rows with SKIP LOCKED, then update exactly those, in this one transaction.
        rows = conn.execute(
            select(schedule.c.post_id, schedule.c.attempts)
            .where(*where)
            .order_by(schedule.c.run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return []
        conn.execute(
            update(schedule)
            .where(schedule.c.post_id.in_([r.post_id for r in rows]))
            .values(**values)
        )
        return [(r.post_id, r.attempts + 1) for r in rows]

    def bulk_update(self, conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
                    columns: Columns, *, where_running: bool = False) -> None:
        key, running, payload = bulk_parts(table, rows, columns, where_running)
        decl = ", ".join(["id VARCHAR(36) PATH '$.id'"] + [
            f"{c} {_TYPES[t]} PATH '$.{c}'" for c, t in columns.items()])
        assignments = ", ".join(f"t.{c} = v.{c}" for c in columns)
        sql = (f"UPDATE {table.name} AS t JOIN JSON_TABLE(:rows, '$[*]' COLUMNS({decl})) "
               f"AS v ON t.{key} = v.id{running} SET {assignments}")
        conn.execute(text(sql), {"rows": payload})

    def notify(self, conn: Connection) -> None:
        return None  # no LISTEN: workers poll

    def lock_caps(self, conn: Connection) -> None:
        # GET_LOCK belongs to the session, not the transaction: unlock_caps releases it
        # only once the claims are committed and visible to the next claimer.
        conn.execute(text("SELECT GET_LOCK(:name, 10)"), {"name": CAPS_LOCK_NAME})

    def unlock_caps(self, conn: Connection) -> None:
        conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": CAPS_LOCK_NAME})
        conn.commit()

    def among(self, column: ColumnElement[Any], ids: Sequence[str]) -> ColumnElement[bool]:
        return column.in_(ids)

    def skip_locked(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.with_for_update(skip_locked=True)

    def is_deadlock(self, exc: OperationalError) -> bool:
        # MariaDB may pick a short transaction as a deadlock victim against a batch write.
        code = getattr(exc.orig, "args", (None,))[0]
        return code in _DEADLOCKS
