"""The fake's media fetches, mounted as Herald's sandbox, obey Herald's address rules
(issue 13, #4): every redirect hop checked, bounded in size."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from herald.media.fetch import FetchRules, IPAddress
from herald.platforms.fake.media_check import MediaFetcher, MediaProblem
from herald.platforms.fake.state import FakeState
from tests.media_files import image_bytes


def public_dns(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        return (ipaddress.ip_address("93.184.215.14"),)


def sandbox_fetcher(seen: list[str], **rules: object) -> MediaFetcher:
    jpeg = image_bytes(size=(1080, 1080))

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.headers['host']}{request.url.path}")
        if request.url.path == "/moved.jpg":
            return httpx.Response(302, headers={"location": "http://10.0.0.7/inside.jpg"})
        return httpx.Response(200, content=jpeg)

    rules_ = FetchRules(resolve=public_dns, **rules)  # type: ignore[arg-type]
    return MediaFetcher(httpx.MockTransport(handle), rules=rules_)


async def test_a_redirect_to_a_private_address_is_refused_unfetched():
    seen: list[str] = []
    fetcher = sandbox_fetcher(seen)
    with pytest.raises(MediaProblem) as problem:
        await fetcher.image(FakeState(), "https://cdn.test/moved.jpg")
    assert problem.value.kind == "unreachable"
    assert not await fetcher.reachable(FakeState(), "https://cdn.test/moved.jpg")
    assert seen == ["cdn.test/moved.jpg", "cdn.test/moved.jpg"]  # 10.0.0.7: never


async def test_a_public_url_is_fetched_and_a_large_one_refused():
    seen: list[str] = []
    info = await sandbox_fetcher(seen).image(FakeState(), "https://cdn.test/cat.jpg")
    assert (info.format, info.width) == ("JPEG", 1080)
    with pytest.raises(MediaProblem) as problem:
        await sandbox_fetcher(seen, max_bytes=100).image(FakeState(), "https://cdn.test/b.jpg")
    assert problem.value.kind == "too_large"
