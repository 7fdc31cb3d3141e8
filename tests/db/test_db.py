"""The engine's connection pool: a connection idle long enough is pinged before use, so one
that died while idle (a database restart) is replaced instead of failing a request."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from herald import db as db_module
from herald.db import Database


def _backend_id(database: Database) -> int:
    query = "SELECT pg_backend_pid()" if database.dialect == "postgresql" \
        else "SELECT CONNECTION_ID()"
    with database.engine.connect() as conn:
        return int(conn.execute(text(query)).scalar_one())


def _kill(database: Database, backend: int) -> None:
    with database.engine.connect() as conn:
        if database.dialect == "postgresql":
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        else:
            conn.execute(text(f"KILL {int(backend)}"))


@pytest.fixture
def database(settings):
    if settings.sqlalchemy_url.get_backend_name() == "sqlite":
        pytest.skip("a SQLite file has no server connection to lose")
    database = Database.from_settings(settings, pool_size=1)
    yield database
    database.dispose()


def test_a_connection_that_died_while_idle_is_replaced(database, monkeypatch):
    first = _backend_id(database)  # the pool keeps this one connection
    other = Database(db_module.make_engine(database.engine.url))
    try:
        _kill(other, first)
    finally:
        other.dispose()
    monkeypatch.setattr(db_module, "PING_AFTER", 0.0)  # it has been idle long enough
    assert _backend_id(database) != first  # pinged, found dead, replaced: no error


def test_a_connection_used_moments_ago_is_not_pinged(database, monkeypatch):
    _backend_id(database)
    pings: list[object] = []
    monkeypatch.setattr(database.engine.dialect, "do_ping", pings.append)
    _backend_id(database)
    assert pings == []
    monkeypatch.setattr(db_module, "PING_AFTER", 0.0)
    _backend_id(database)
    assert len(pings) == 1
