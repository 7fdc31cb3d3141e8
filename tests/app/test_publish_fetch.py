"""Media fetched at publish time (LinkedIn uploads) obeys the media URL rules (issue 13, #5).

The post was checked when it was scheduled; by 9 a.m. its URL's host may answer from a
private address or with a larger file. Real worker, real clients, the platform fake.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from herald.runtime import Herald
from tests.app.test_publish_e2e import LI, create, drain, fake, live, media
from tests.media_files import image_bytes

__all__ = ["fake", "live"]  # fixtures, used by name


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str]
    redirect_to: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.redirect_to:
            self.send_response(302)
            self.send_header("location", self.redirect_to[0])
            self.send_header("content-length", "0")
            self.end_headers()
            return
        body = image_bytes(size=(1080, 1080))
        self.send_response(200)
        self.send_header("content-type", "image/jpeg")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(redirect_to: str | None = None) -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 (an image, or a redirect), and the paths it was asked for."""
    hits: list[str] = []
    handler = type("Handler", (_Counting,), {
        "hits": hits, "redirect_to": [redirect_to] if redirect_to else []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def local_server() -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 that is not Herald's."""
    with serving() as server:
        yield server


def publishing(herald: Herald, fake, **settings: object) -> Herald:
    """Herald on the fake with these settings, and no scheduling-time checks (what the
    URL's host answered at scheduling time is not what it answers now)."""
    changed = herald.settings.model_copy(update={
        "graph_api_url": fake.graph_url, "linkedin_api_url": fake.linkedin_url, **settings})
    return Herald.build(changed, db=herald.db, platforms=True, quick=True, checks=None)


async def test_a_private_media_url_fails_the_post_unfetched(herald, fake, live, company,
                                                          local_server):
    base, hits = local_server
    strict = publishing(herald, fake, allow_private_media_urls=False)
    ids = await asyncio.to_thread(
        create, strict, company[0], account_id=live[LI], post_type="feed",
        caption="private", media=[{"url": f"{base}/cat.jpg", "type": "image"}])
    [post] = (await drain(strict, ids)).values()
    assert post.status == "failed"
    assert "127.0.0.1 is a loopback address" in post.error_message
    assert hits == [] and fake.state.published() == []


async def test_a_redirect_to_a_private_address_fails_the_post_unfetched(
        herald, fake, live, company, local_server):
    inside, hits = local_server
    # Herald's own media store may be on loopback (`herald run`): its URLs are fetched;
    # one that redirects elsewhere on loopback is refused at that hop.
    with serving(redirect_to=f"{inside}/secret") as (public_url, own_hits):
        strict = publishing(herald, fake, allow_private_media_urls=False,
                            public_url=public_url)
        ids = await asyncio.to_thread(
            create, strict, company[0], account_id=live[LI], post_type="feed",
            caption="redirected", media=[{"url": f"{public_url}/media/cat.jpg",
                                          "type": "image"}])
        [post] = (await drain(strict, ids)).values()
    assert post.status == "failed" and post.attempts == 1
    assert "127.0.0.1 is a loopback address" in post.error_message
    assert own_hits == ["/media/cat.jpg"] and hits == []
    assert fake.state.published() == []


async def test_media_over_the_size_cap_fails_the_post(herald, fake, live, company):
    capped = publishing(herald, fake, media_max_upload_bytes=1000)
    ids = await asyncio.to_thread(
        create, capped, company[0], account_id=live[LI], post_type="feed",
        caption="too big", media=media(fake, "square.jpg"))
    [post] = (await drain(capped, ids)).values()
    assert post.status == "failed"
    assert "larger than" in post.error_message and post.attempts == 1
    assert fake.state.published() == []


async def test_an_allowed_media_url_still_publishes(herald, fake, live, company):
    allowed = publishing(herald, fake)
    ids = await asyncio.to_thread(
        create, allowed, company[0], account_id=live[LI], post_type="feed",
        caption="fine", media=media(fake, "square.jpg"))
    [post] = (await drain(allowed, ids)).values()
    assert post.status == "published", post.error_message
