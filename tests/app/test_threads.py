"""Threads from the API to the fake graph.threads.net: posts checked when scheduled, and
published by the real worker and client over HTTP, once, replies (first comments) too."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from herald.app import create_app
from herald.platforms.fake import FakeServer
from herald.platforms.threads.fake import store
from herald.runtime import Herald
from tests.app.test_publish_e2e import create, drain
from tests.helpers import add_account
from tests.media_files import image_bytes, mp4_bytes

USER = "26000000001"


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.state.add_account("threads", USER, "secret-token-" + USER, name="Alice")
        server.state.add_file("a.jpg", image_bytes(size=(1080, 1350)), "image/jpeg")
        server.state.add_file("clip.mp4", mp4_bytes(seconds=8, data_bytes=100_000),
                              "video/mp4")
        yield server


@pytest.fixture
def herald(herald, fake):
    settings = herald.settings.model_copy(update={"threads_api_url": f"{fake.url}/threads"})
    return Herald.build(settings, db=herald.db, platforms=True, quick=True)


@pytest.fixture
def account(herald, company) -> str:
    return add_account(herald, company[0], "threads", USER)


@pytest.fixture
def api(herald, company) -> Iterator[TestClient]:
    with TestClient(create_app(herald)) as client:
        client.headers["Authorization"] = f"Bearer {company[1]}"
        yield client


def media(fake: FakeServer, *names: str) -> list[dict[str, Any]]:
    return [{"url": f"{fake.url}/_fake/files/{n}",
             "type": "video" if n.endswith(".mp4") else "image"} for n in names]


def test_bad_posts_are_refused_when_scheduled(api, fake, account) -> None:
    long = api.post("/api/v1/posts", json={"account_id": account, "caption": "a" * 501,
                                           "run_at": "now", "post_type": "text"})
    assert long.status_code == 422, long.text
    assert "Threads posts are limited to 500 characters; this one has 501" in long.text
    ok = api.post("/api/v1/posts", json={"account_id": account, "caption": "a" * 500,
                                         "run_at": "now", "post_type": "text"})
    assert ok.status_code == 201, ok.text
    reply = api.post("/api/v1/posts", json={
        "account_id": account, "caption": "fine", "run_at": "now", "post_type": "text",
        "options": {"first_comment": "b" * 501}})
    assert reply.status_code == 422 and "comments are limited to 500" in reply.text
    single = api.post("/api/v1/posts", json={
        "account_id": account, "caption": "one", "run_at": "now", "post_type": "carousel",
        "media": media(fake, "a.jpg")})
    assert single.status_code == 422 and "2 to 20 images or videos" in single.text
    story = api.post("/api/v1/posts", json={
        "account_id": account, "caption": "s", "run_at": "now", "post_type": "story",
        "media": media(fake, "a.jpg")})
    assert story.status_code == 422 and "Threads has no stories" in story.text


@pytest.mark.all_engines
async def test_every_post_type_publishes_once(herald, fake, company, account) -> None:
    plan = [dict(post_type="text", caption="Hello Threads #herald"),
            dict(post_type="feed", caption="One image", media=media(fake, "a.jpg")),
            dict(post_type="video", caption="A video", media=media(fake, "clip.mp4")),
            dict(post_type="carousel", caption="Three items",
                 media=media(fake, "a.jpg", "a.jpg", "clip.mp4"))]
    ids = []
    for fields in plan:
        ids += await asyncio.to_thread(create, herald, company[0], account_id=account,
                                       **fields)
    posts = await drain(herald, ids)
    assert {p.status for p in posts.values()} == {"published"}, {
        p.caption: p.error_message for p in posts.values()}
    out = store.posts(fake.state, USER)
    assert sorted(t.media_type for t in out) == ["CAROUSEL_ALBUM", "IMAGE", "TEXT_POST",
                                                  "VIDEO"]
    assert {p.external_post_id for p in posts.values()} == {t.id for t in out}
    assert all(p.permalink and "?id=" in p.permalink for p in posts.values())
    [carousel] = [r for r in fake.state.published(platform="threads") if r.kind ==
                  "carousel_album"]
    assert len(carousel.media_urls) == 3


async def test_a_lost_publish_answer_is_reconciled_without_a_duplicate(
        herald, fake, company, account) -> None:
    fake.state.add_fault("drop", platform="threads", endpoint="commit", count=2)
    ids = []
    for n in range(2):
        ids += await asyncio.to_thread(create, herald, company[0], account_id=account,
                                       post_type="text", caption=f"Dropped answer {n}")
    posts = await drain(herald, ids)
    assert {p.status for p in posts.values()} == {"published"}
    out = store.posts(fake.state, USER)
    assert len(out) == 2  # each went out once, though the answers were lost
    assert {p.external_post_id for p in posts.values()} == {t.id for t in out}
    commits = [c for c in fake.state.commits() if c.platform == "threads"]
    assert [c.outcome for c in commits].count("dropped") == 2
    assert len(commits) == 2  # reconciliation read the container; it never published again


async def test_the_first_comment_is_one_reply(herald, fake, company, account) -> None:
    fake.state.add_fault("drop", platform="threads", endpoint="comment", count=1)
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=account,
                                    post_type="text", caption="With a reply",
                                    options={"first_comment": "The link: example.com"})
    posts = await drain(herald, [pid])
    assert posts[pid].status == "published"
    [thread] = store.posts(fake.state, USER)
    for _ in range(100):  # the reply is the second journaled step; the drop is reconciled
        replies = store.replies_to(fake.state, thread.id)
        if replies:
            break
        await asyncio.sleep(0.05)
    assert [r.text for r in replies] == ["The link: example.com"]


async def test_a_full_quota_waits_and_names_the_limit(herald, fake, company) -> None:
    fake.state.add_account("threads", "26000000002", "secret-token-26000000002",
                           quota_total=1)
    account = add_account(herald, company[0], "threads", "26000000002")
    ids = []
    for n in range(2):
        ids += await asyncio.to_thread(create, herald, company[0], account_id=account,
                                       post_type="text", caption=f"Quota {n}")
    worker_posts = await _until_one_waits(herald, ids)
    statuses = sorted(p.status for p in worker_posts.values())
    assert statuses == ["pending", "published"], statuses
    [waiting] = [p for p in worker_posts.values() if p.status == "pending"]
    assert "Threads' publishing limit is used up (1 of 1 posts in 24 h)" in (
        waiting.error_message or "")
    assert len(store.posts(fake.state, "26000000002")) == 1


async def _until_one_waits(herald, ids):
    from herald.app import build_worker
    from tests.app.test_publish_e2e import _posts

    worker = build_worker(herald, worker_id="e2e", concurrency=1)  # one after the other
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(300):
            posts = await asyncio.to_thread(_posts, herald, ids)
            if any(p.status == "published" for p in posts.values()) and any(
                    p.error_message for p in posts.values()):
                return posts
            await asyncio.sleep(0.1)
        raise AssertionError({p.caption: (p.status, p.error_message) for p in posts.values()})
    finally:
        worker.stop()
        await task
        await herald.aclose()


async def test_a_sandbox_account_publishes_to_the_sandbox(herald, company) -> None:
    from bench.platform import free_port

    port = free_port()
    settings = herald.settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    local = Herald.build(settings, db=herald.db, platforms=True, sandbox=True, quick=True)
    with FakeServer(app=create_app(local), port=port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={
                "Authorization": f"Bearer {company[1]}"}) as client:
            made = (await client.post("/api/v1/accounts", json={
                "platform": "threads", "name": "Sandbox", "sandbox": True})).json()
            ids = await asyncio.to_thread(create, local, company[0], account_id=made["id"],
                                          post_type="text", caption="Hello sandbox")
            posts = await drain(local, ids)
    [post] = posts.values()
    assert post.status == "published", post.error_message
    assert local.sandbox is not None
    [record] = local.sandbox.state.published(platform="threads")
    assert record.caption == "Hello sandbox" and "/sandbox/" in (post.permalink or "")


async def test_the_doctor_asks_threads_whether_a_token_works(herald, fake) -> None:
    from herald.platforms.registry import spec
    from herald.platforms.spec import TokenProbe

    threads = spec("threads")
    assert threads.check_token is not None
    async with httpx.AsyncClient() as client:
        def probe(token: str) -> TokenProbe:
            return TokenProbe(client, threads.endpoint(herald.settings), herald.settings,
                              USER, token)

        good = await threads.check_token(probe("secret-token-" + USER))
        bad = await threads.check_token(probe("revoked-or-wrong"))
    assert good.valid and not good.scopes_checked
    assert not bad.valid and "code 190" in bad.problem and "revoked" not in bad.problem


async def test_a_failed_reply_leaves_the_post_published(herald, fake, company, account) -> None:
    from tests.app.test_first_comments_e2e import detail

    fake.state.add_fault("error", platform="threads", endpoint="comment")
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=account,
                                    post_type="text", caption="Reply refused",
                                    options={"first_comment": "Never shown"})
    posts = await drain(herald, [pid])
    assert posts[pid].status == "published"
    found = await asyncio.to_thread(detail, herald, company[0], pid)
    state = found.first_comment_state
    assert state is not None and state.status == "failed", state
    assert "Threads" in (state.error or "")
    [thread] = store.posts(fake.state, USER)
    assert store.replies_to(fake.state, thread.id) == []


async def test_a_token_close_to_expiry_is_renewed_before_it_posts(herald, fake, company):
    from datetime import timedelta

    from herald.models import SocialToken, utcnow

    # Connected 55 days ago: 5 days left of the 60, inside the refresher's window.
    account = add_account(herald, company[0], "threads", USER,
                          token_expires_at=utcnow() + timedelta(days=5))
    ids = await asyncio.to_thread(create, herald, company[0], account_id=account,
                                  post_type="text", caption="after a renewal")
    posts = await drain(herald, ids)
    assert [p.status for p in posts.values()] == ["published"]
    with herald.db.session() as s:
        row = s.get(SocialToken, account)
        assert row is not None
        fresh = herald.cipher.decrypt(row.access_token_enc)
        assert row.refresh_token_enc is None  # the token renews itself
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(
            tzinfo=utcnow().tzinfo)
    assert fresh != "secret-token-" + USER
    assert expires > utcnow() + timedelta(days=50)
    with fake.state.lock:
        assert store.store(fake.state).tokens[fresh] == USER
    [thread] = store.posts(fake.state, USER)
    assert thread.text == "after a renewal"
