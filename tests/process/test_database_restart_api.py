"""While its database restarts, the API answers 503 with Retry-After, and 200 again after.

The database is reached through a TCP proxy (tests/process/blackhole.py) that does what a
restarting server does: it closes every open connection and refuses new ones. The shared
servers themselves are never stopped. Before, the requests caught by a restart got a bare
500 ("Internal Server Error"), as the soak found on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from herald import services
from herald.app import create_app
from herald.runtime import Herald
from herald.unavailable import CODE, RETRY_AFTER
from tests.conftest import make_settings
from tests.process.blackhole import Blackhole


@pytest.fixture
def api(server_database: str, tmp_path: Path) -> Iterator[tuple[TestClient, Blackhole, str]]:
    parsed = make_url(server_database)
    hole = Blackhole(parsed.host or "127.0.0.1", parsed.port or 5432).start()
    url = parsed.set(port=hole.port, query={**parsed.query, "connect_timeout": "3"}
                     ).render_as_string(hide_password=False)
    herald = Herald.from_settings(make_settings(url, media_dir=tmp_path / "media"))
    with herald.db.session() as session:
        _, token = services.create_company(session, name="Acme")
    try:
        with TestClient(create_app(herald), raise_server_exceptions=False) as client:
            yield client, hole, token
    finally:
        herald.db.dispose()
        hole.close()


def _unavailable(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(RETRY_AFTER)
    error = response.json()["error"]
    assert error["code"] == CODE
    assert "try again" in error["message"].lower()


def test_a_database_restart_answers_503_with_retry_after_then_serves_again(api) -> None:
    client, hole, token = api
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/posts", headers=auth).status_code == 200

    hole.refuse()
    # A read on a pooled connection the restart closed, then on a connection refused.
    _unavailable(client.get("/api/v1/posts", headers=auth))
    _unavailable(client.get("/api/v1/posts", headers=auth))
    # A write; the token is cached, so its route meets the database.
    _unavailable(client.post("/api/v1/accounts", headers=auth, json={
        "platform": "facebook", "external_id": "1", "name": "Page", "access_token": "t"}))
    # A token not cached: the check before the body is read meets it first.
    _unavailable(client.post("/api/v1/posts", headers={"Authorization": "Bearer other"},
                             json={}))
    # Readiness says so too (it always did; it must stay a 503, not become another shape).
    assert client.get("/readyz").status_code == 503

    hole.heal()
    statuses = [client.get("/api/v1/posts", headers=auth).status_code for _ in range(3)]
    assert statuses[-1] == 200, statuses
    assert set(statuses) <= {200, 503}, statuses

