"""The platform clients' HTTP client times every call it gets an answer to."""

from __future__ import annotations

import httpx

from herald import metrics
from herald.config import Settings
from herald.platforms.registry import http_client


def _count(host: str, status: str) -> float:
    value = metrics.HERALD.get_sample_value(
        "herald_platform_request_duration_seconds_count", {"host": host, "status": status})
    return value or 0.0


async def test_each_answered_call_is_observed_by_host_and_status() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201 if request.method == "POST" else 400)

    before = _count("graph.test", "201"), _count("graph.test", "400")
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer),
                                 event_hooks=metrics.platform_call_hooks()) as client:
        await client.post("https://graph.test/v25.0/1/feed")
        await client.post("https://graph.test/v25.0/1/feed")
        await client.get("https://graph.test/v25.0/1?fields=id")
    after = _count("graph.test", "201"), _count("graph.test", "400")
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)


async def test_the_platform_client_carries_the_hooks() -> None:
    client = http_client(Settings(secret_key="x" * 32))
    try:
        assert client.event_hooks["response"], client.event_hooks
    finally:
        await client.aclose()
