"""A passing 5xx on a Bluesky read is sent again within the attempt (reading a record key
back after an unknown outcome must survive one blip); a commit never is."""

from __future__ import annotations

import httpx
import pytest

from herald.media.fetch import FetchRules, SafeFetcher
from herald.platforms.base import OutcomeUnknownError, TransientError
from herald.platforms.bluesky import client as bluesky


@pytest.fixture(autouse=True)
def _no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bluesky, "QUICK_RETRIES", (0.0, 0.0))


def publisher(answers: list[httpx.Response], seen: list[httpx.Request]):
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)
    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return bluesky.BlueskyPublisher(client, fetcher=SafeFetcher(client, FetchRules()),
                                    base_url="https://pds.test")


FAILED = httpx.Response(500, json={"error": "InternalServerError",
                                   "message": "Internal Server Error"})


async def test_a_read_is_sent_again_after_a_blip():
    seen: list[httpx.Request] = []
    p = publisher([FAILED, httpx.Response(200, json={"uri": "at://x"})], seen)
    body = await p._call("GET", "https://pds.test/xrpc/com.atproto.repo.getRecord",
                         step="read")
    assert body == {"uri": "at://x"} and len(seen) == 2


async def test_three_blips_end_the_read_and_a_commit_is_never_resent():
    seen: list[httpx.Request] = []
    p = publisher([FAILED, FAILED, FAILED], seen)
    with pytest.raises(TransientError):
        await p._call("GET", "https://pds.test/xrpc/com.atproto.repo.getRecord", step="read")
    assert len(seen) == 3
    seen.clear()
    p = publisher([FAILED, httpx.Response(200, json={})], seen)
    with pytest.raises(OutcomeUnknownError):  # a 5xx to a commit: it may be written
        await p._call("POST", "https://pds.test/xrpc/com.atproto.repo.createRecord",
                      step="commit")
    assert len(seen) == 1
