"""Network timeouts every database connection gets unless its URL sets them
(herald.db.PG_NETWORK, MYSQL_NETWORK): an unreachable or silent server is found out."""

from __future__ import annotations

from herald.config import normalize_database_url
from herald.db import make_engine


def _parameters(url: str) -> dict[str, object]:
    engine = make_engine(normalize_database_url(url))
    try:
        raw = engine.raw_connection()
        try:
            conn = raw.driver_connection
            if engine.dialect.name == "postgresql":
                return dict(conn.info.get_parameters())  # type: ignore[union-attr]
            if engine.dialect.name == "mysql":
                return {"connect_timeout": conn.connect_timeout,  # type: ignore[union-attr]
                        "read_timeout": conn._read_timeout}  # type: ignore[union-attr]
            return {}
        finally:
            raw.close()
    finally:
        engine.dispose()


def test_connections_get_network_timeouts_unless_the_url_sets_them(database_url: str) -> None:
    found = _parameters(database_url)
    if database_url.startswith("postgresql"):
        assert (found["connect_timeout"], found["keepalives_idle"],
                found["tcp_user_timeout"]) == ("10", "30", "60000")
    elif database_url.startswith("mysql"):
        assert found == {"connect_timeout": 10, "read_timeout": 120}
    else:
        assert found == {}  # SQLite: no network
        return
    sep = "&" if "?" in database_url else "?"
    assert str(_parameters(f"{database_url}{sep}connect_timeout=3")["connect_timeout"]) == "3"
