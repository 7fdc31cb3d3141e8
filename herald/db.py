"""Engines per dialect and the session factory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from herald.config import ConfigError, Settings

#: Execution option marking a connection that only reads (see _sqlite_engine).
READ_ONLY = "herald_read_only"
#: Seconds a pooled connection may sit unused before it is pinged at checkout.
PING_AFTER = 5.0


#: Connections a process keeps open (made on demand, so an idle process holds few): at
#: least the API's threads (herald.app.API_THREADS, 8) plus the worker's
#: (herald.worker.DB_THREADS, 10) that `herald run` puts in one process. An overflow
#: connection is closed when it is returned, so a pool smaller than the requests in flight
#: opens and closes a PostgreSQL connection (a backend process) per request.
POOL_SIZE = 20
#: Beyond the pool, for bursts; pool + overflow (30) is the most a process opens, as before.
MAX_OVERFLOW = 10

#: Network timeouts every connection gets unless its URL sets them (`?connect_timeout=3`):
#: an unreachable server fails the connect in 10 s, and a connection whose peer went away
#: without a word (a host that died, a blackholed route) is found dead by the kernel:
#: keepalive probes after 30 s idle, and on PostgreSQL data unacknowledged for 60 s.
#: MariaDB's read and write timeouts bound each answer (above InnoDB's 50 s lock wait).
#: A worker also bounds every call itself (HERALD_DB_TIMEOUT, herald.queue.deadline).
PG_NETWORK: dict[str, Any] = {
    "connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
    "keepalives_count": 3, "tcp_user_timeout": 60_000,
}
MYSQL_NETWORK: dict[str, Any] = {"connect_timeout": 10, "read_timeout": 120,
                                 "write_timeout": 120}


def make_engine(url: URL, *, pool_size: int = POOL_SIZE, pgbouncer: bool = False) -> Engine:
    """An engine tuned for its dialect (`pgbouncer`: safe behind transaction pooling)."""
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {"future": True}
    if backend == "sqlite":
        return _sqlite_engine(url)
    kwargs.update(pool_size=pool_size, max_overflow=MAX_OVERFLOW)
    network = PG_NETWORK if backend == "postgresql" else MYSQL_NETWORK
    kwargs["connect_args"] = {k: v for k, v in network.items() if k not in url.query}
    read_timeout = kwargs["connect_args"].get("read_timeout") if backend == "mysql" else None
    if read_timeout is not None:
        # PyMySQL reads the server's greeting with the read timeout, not the connect
        # timeout: a silent network would hold every reconnect for the read timeout.
        # Connect with the connect timeout as the read timeout, then set the real one.
        kwargs["connect_args"]["read_timeout"] = int(
            url.query.get("connect_timeout", network["connect_timeout"]))
    if backend == "postgresql" and pgbouncer:
        # psycopg prepares a statement on the server after its fifth run on a connection;
        # behind transaction pooling the next transaction may land on another server
        # connection, where that prepared statement does not exist. None: never prepare.
        # (Herald keeps no other session state: its advisory lock is per transaction.)
        kwargs["connect_args"]["prepare_threshold"] = None
    if backend == "mysql":
        # READ COMMITTED: the claim's SELECT … FOR UPDATE SKIP LOCKED must not take
        # gap locks, which under REPEATABLE READ make concurrent claimers deadlock.
        kwargs.update(isolation_level="READ COMMITTED", pool_recycle=3600)
        url = url.update_query_dict({"charset": "utf8mb4"})
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    if read_timeout is not None:

        @event.listens_for(engine, "connect")
        def _connected(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection._read_timeout = read_timeout  # the next read applies it

    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only if it sat idle for PING_AFTER seconds.

    SQLAlchemy's pool_pre_ping pings on every checkout: a round trip of seven on an API
    create. A connection used moments ago is almost surely alive; one idle across a
    database restart is what the ping is for. A connection that died within the last
    seconds fails its statement instead, and SQLAlchemy then replaces the whole pool
    (a disconnect error invalidates every older connection).
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["herald_used_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        used = record.info.get("herald_used_at")
        if used is None or time.monotonic() - used < PING_AFTER:
            return  # fresh from connect(), or used moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool catches this, discards the connection and checks out another.
            raise DisconnectionError(str(exc)) from exc


def _sqlite_engine(url: URL) -> Engine:
    memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if memory:
        # One shared connection for :memory:, or each connection would see its own database.
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and
        # then writes fails with SQLITE_BUSY at once instead of waiting on busy_timeout.
        # Pure reads (READ_ONLY) take no lock, so an idle worker's poll blocks no writer.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


class Database:
    """The engine and session factory of one Herald instance."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings, *, pool_size: int = POOL_SIZE) -> Database:
        return cls(make_engine(settings.sqlalchemy_url, pool_size=pool_size,
                               pgbouncer=settings.database_pgbouncer))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def check_connection(self) -> None:
        """Fail with one readable line when the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            where = self.engine.url.render_as_string(hide_password=True)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise ConfigError(f"cannot reach the database {where}: {reason}") from None

    def dispose(self) -> None:
        self.engine.dispose()
