"""The database's clock: the one clock every host that shares the database agrees on.

Due times and leases are decided by it, in the statement that decides them (`run_at <=
now`, `lease_expires_at < now`, a lease set to now + its length), so a host whose clock
runs ahead or behind neither publishes early nor rescues a live lease. Times are naive
UTC, as every timestamp column stores them (herald.models.UTCDateTime):

- PostgreSQL: `timezone('UTC', statement_timestamp())` (the statement's start, whatever
  the session's TimeZone; `now()` would be the transaction's);
- MariaDB / MySQL: `UTC_TIMESTAMP(6)` (the statement's start, microseconds);
- SQLite: `strftime('%Y-%m-%d %H:%M:%f000', 'now')`, milliseconds padded to the six
  digits SQLAlchemy stores, so the text compares as the stored values do. SQLite runs in
  the process that opens it, so its clock is that host's: SQLite's processes share one
  host anyway.

Callers that pass a time (tests, replaying a moment) get that time as a literal instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, literal, literal_column, select

from herald.models import UTCDateTime


def now_sql(dialect: str) -> ColumnElement[datetime]:
    """The database's current time (naive UTC) as an expression in a statement."""
    return later_sql(dialect, 0.0)


def later_sql(dialect: str, seconds: float) -> ColumnElement[datetime]:
    """The database's current time plus `seconds`, as an expression in a statement.

    The number is written into the statement (it is a setting, such as the lease, so the
    statement's text stays the same from one call to the next).
    """
    micros = round(seconds * 1_000_000)
    if dialect == "postgresql":
        sql = "timezone('UTC', statement_timestamp())"
        if micros:
            sql = f"({sql} + interval '{micros} microseconds')"
    elif dialect == "mysql":
        sql = "UTC_TIMESTAMP(6)"
        if micros:
            sql = f"TIMESTAMPADD(MICROSECOND, {micros}, {sql})"
    elif dialect == "sqlite":
        shift = f", '{micros / 1_000_000:+.6f} seconds'" if micros else ""
        sql = f"strftime('%Y-%m-%d %H:%M:%f000', 'now'{shift})"
    else:
        raise ValueError(f"no database clock for the {dialect!r} engine")
    return literal_column(sql, UTCDateTime())


def at(now: datetime | None, dialect: str, plus: float = 0.0) -> ColumnElement[Any]:
    """`now` (+ `plus` seconds) in a statement: the given time, or the database's."""
    if now is None:
        return later_sql(dialect, plus)
    return literal(now + timedelta(seconds=plus), UTCDateTime())


def read_now(conn: Connection) -> datetime:
    """What time the database says it is (timezone-aware UTC)."""
    value: datetime = conn.execute(select(now_sql(conn.dialect.name))).scalar_one()
    return value
