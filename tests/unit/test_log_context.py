"""JSON log lines with their context, and the request id every request gets."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from herald import log_context, logs
from herald.request_context import RequestLayer


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Records of the logger "herald.test", as herald's JSON lines."""
    logs.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_context.JsonFormatter())
    logger = logging.getLogger("herald.test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_carries_its_context_redacted(json_lines) -> None:
    log = logging.getLogger("herald.test")
    with log_context.bound(post_id="p1", attempt=2):
        with log_context.bound(account_id="a1", worker_id=None):
            log.info("sent %s", "https://x.test/?access_token=EAA1")
        log.warning("after")
    log.info("outside")
    first, second, third = _records(json_lines)
    assert first["message"] == "sent https://x.test/?access_token=[redacted]"
    assert (first["post_id"], first["attempt"], first["account_id"]) == ("p1", 2, "a1")
    assert "worker_id" not in first  # None is left out
    assert (first["level"], first["logger"]) == ("INFO", "herald.test")
    assert str(first["time"]).endswith("Z")
    assert second["post_id"] == "p1" and "account_id" not in second
    assert "post_id" not in third


def test_a_traceback_is_one_field_of_one_line(json_lines) -> None:
    try:
        raise ValueError("refresh_token=R1 went wrong")
    except ValueError:
        logging.getLogger("herald.test").exception("failed")
    [record] = _records(json_lines)
    assert "ValueError: refresh_token=[redacted] went wrong" in str(record["exception"])


async def test_tasks_inherit_the_context_and_keep_their_own(json_lines) -> None:
    log = logging.getLogger("herald.test")

    async def publish(post: str) -> None:
        with log_context.bound(post_id=post):
            await asyncio.sleep(0.01)
            log.info("publishing")

    with log_context.bound(worker_id="w1"):
        await asyncio.gather(publish("a"), publish("b"))
    records = _records(json_lines)
    assert sorted(str(r["post_id"]) for r in records) == ["a", "b"]
    assert all(r["worker_id"] == "w1" for r in records)


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/sync")
    def sync_route() -> dict[str, object]:  # in a worker thread: the context follows
        logging.getLogger("herald.test").info("in a thread")
        return dict(log_context.current())

    app.add_middleware(RequestLayer)
    return app


def test_a_request_id_is_made_echoed_and_on_every_line(json_lines) -> None:
    with TestClient(_app()) as client:
        made = client.get("/sync")
        given = client.get("/sync", headers={"X-Request-ID": "edge-42.a:b"})
        forged = client.get("/sync", headers={"X-Request-ID": 'x" level=ERROR'})
    assert len(made.headers["x-request-id"]) == 32
    assert made.json() == {"request_id": made.headers["x-request-id"]}
    assert given.headers["x-request-id"] == "edge-42.a:b"
    assert forged.headers["x-request-id"] != 'x" level=ERROR'
    assert len(forged.headers["x-request-id"]) == 32
    ids = [r["request_id"] for r in _records(json_lines)]
    assert ids == [made.headers["x-request-id"], "edge-42.a:b",
                   forged.headers["x-request-id"]]
