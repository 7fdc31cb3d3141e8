"""Which database errors mean "try again later" (503 + Retry-After), and which stay 500s."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import PlainTextResponse
from starlette.routing import Route, Router
from starlette.testclient import TestClient

from herald.unavailable import CODE, RETRY_AFTER, DatabaseUnavailable, is_unavailable


def _raising(exc: Exception) -> TestClient:
    def route(request: object) -> PlainTextResponse:
        raise exc

    app = DatabaseUnavailable(Router(routes=[Route("/", route)]))
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("exc", [
    OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly")),
    OperationalError("INSERT", {}, Exception("database is locked")),
    PoolTimeout("QueuePool limit of size 5 overflow 10 reached"),
])
def test_the_database_away_or_busy_is_a_503_with_retry_after(exc: Exception) -> None:
    assert is_unavailable(exc)
    response = _raising(exc).get("/")
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(RETRY_AFTER)
    assert response.json()["error"]["code"] == CODE
    assert "closed" not in response.text  # the driver's words (hosts, ports) stay in the log


@pytest.mark.parametrize("exc", [
    ProgrammingError("SELECT nope", {}, Exception("syntax error")),
    IntegrityError("INSERT", {}, Exception("duplicate key")),
    ValueError("a bug"),
])
def test_bad_sql_and_bugs_stay_500s(exc: Exception) -> None:
    assert not is_unavailable(exc)
    assert _raising(exc).get("/").status_code == 500


def test_an_answer_already_started_is_not_replaced() -> None:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise OperationalError("SELECT 1", {}, Exception("gone"))

    with pytest.raises(OperationalError):
        TestClient(DatabaseUnavailable(app)).get("/")
