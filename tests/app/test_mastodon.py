"""Mastodon from the API to the instance: accounts checked with their token, posts checked
against the instance's own limits when scheduled, and published by the real worker and
client to the fake instance over HTTP, once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from herald.app import create_app
from herald.platforms.fake import FakeServer
from herald.platforms.mastodon import instance
from herald.platforms.mastodon.fake import store as masto
from herald.runtime import Herald
from tests.app.test_first_comments_e2e import settled
from tests.app.test_publish_e2e import create, drain
from tests.media_files import image_bytes, mp4_bytes

TOKEN = "alice-token"


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    instance.forget()
    with FakeServer() as server:
        masto.add_account(server.state, "alice", TOKEN)
        server.state.add_file("a.jpg", image_bytes(size=(1000, 1000)), "image/jpeg")
        server.state.add_file("v.mp4", mp4_bytes(), "video/mp4")
        yield server
    instance.forget()


@pytest.fixture
def herald(herald, fake):
    """Real clients (platforms=True), allowed to reach the fake instance on loopback."""
    settings = herald.settings.model_copy(update={"allow_private_server_urls": True})
    return Herald.build(settings, db=herald.db, platforms=True, quick=True)


@pytest.fixture
def api(herald, company) -> Iterator[TestClient]:
    with TestClient(create_app(herald)) as client:
        client.headers["Authorization"] = f"Bearer {company[1]}"
        yield client


def account(api: TestClient, fake: FakeServer, **changes) -> dict:
    body = {"platform": "mastodon", "name": "Alice", "external_id": "alice",
            "access_token": TOKEN, "server_url": f"{fake.url}/mastodon/", **changes}
    resp = api.post("/api/v1/accounts", json=body)
    return {"status": resp.status_code, **resp.json()}


def posted(api: TestClient, account_id: str, **fields) -> httpx.Response:
    return api.post("/api/v1/posts", json={"account_id": account_id, "run_at": "now",
                                           **fields})


def test_an_account_is_checked_with_its_token(api, fake) -> None:
    made = account(api, fake)
    assert made["status"] == 201, made
    assert made["server_url"] == f"{fake.url}/mastodon"
    assert "access_token" not in made
    refused = account(api, fake, access_token="wrong-token")
    assert refused["status"] == 422
    assert "access token" in refused["error"]["message"]
    other = account(api, fake, external_id="carol")
    assert other["status"] == 422 and "@alice" in other["error"]["message"]


def test_an_instance_that_does_not_answer_is_refused(api, fake) -> None:
    from bench.platform import free_port

    made = account(api, fake, server_url=f"http://127.0.0.1:{free_port()}")
    assert made["status"] == 422
    assert "could not check the account" in made["error"]["message"]


def test_a_server_that_is_not_mastodon_is_refused(api, fake) -> None:
    made = account(api, fake, server_url=f"{fake.url}/nothing-here")
    assert made["status"] == 422 and "Mastodon" in made["error"]["message"]


def test_an_http_or_private_instance_is_refused_by_default(herald, company, fake) -> None:
    strict = herald.settings.model_copy(update={"allow_private_server_urls": False})
    with TestClient(create_app(Herald.build(strict, db=herald.db, platforms=True))) as client:
        client.headers["Authorization"] = f"Bearer {company[1]}"
        made = account(client, fake)
        assert made["status"] == 422 and "https://" in made["error"]["message"]
        made = account(client, fake, server_url="https://127.0.0.1/")
        assert made["status"] == 422 and "public internet" in made["error"]["message"]


def test_posts_are_checked_against_the_instances_own_limits(api, fake) -> None:
    masto.configure(fake.state, max_characters=1000, max_media_attachments=2)
    made = account(api, fake)  # the instance's limits are read when the account is added
    image = {"url": f"{fake.url}/_fake/files/a.jpg", "type": "image"}
    assert posted(api, made["id"], caption="a" * 900, post_type="text").status_code == 201
    long = posted(api, made["id"], caption="a" * 1001, post_type="text")
    assert long.status_code == 422 and "1,000 characters" in long.text
    three = posted(api, made["id"], caption="three", media=[image] * 3)
    assert three.status_code == 422 and "at most 2 media items" in three.text
    warned = posted(api, made["id"], caption="a" * 990, post_type="text",
                    options={"spoiler_text": "a spoiler, and more"})
    assert warned.status_code == 422 and "content warning" in warned.text
    comment = posted(api, made["id"], caption="hi", post_type="text",
                     first_comment="c" * 1001)
    assert comment.status_code == 422 and "first comment" in comment.text
    bad = posted(api, made["id"], caption="hi", post_type="text",
                 options={"visibility": "everyone"})
    assert bad.status_code == 422 and "visibility" in bad.text


def test_the_limits_are_read_again_after_a_restart(herald, company, fake) -> None:
    masto.configure(fake.state, max_characters=1000)
    with TestClient(create_app(herald)) as client:
        client.headers["Authorization"] = f"Bearer {company[1]}"
        made = account(client, fake)
    server = f"{fake.url}/mastodon"
    instance.forget()  # as a fresh API process starts
    reads = fake_reads(fake)
    with TestClient(create_app(herald)) as client:  # its start-up reads the instance
        client.headers["Authorization"] = f"Bearer {company[1]}"
        for _ in range(200):
            if instance.fresh(server) is not None:
                break
            time.sleep(0.05)
        assert fake_reads(fake) == reads + 1
        ok = posted(client, made["id"], caption="a" * 900, post_type="text")
        assert ok.status_code == 201, ok.text


def test_a_check_never_waits_on_the_instance(api, fake) -> None:
    made = account(api, fake)
    server = f"{fake.url}/mastodon"
    instance.forget()
    masto.configure(fake.state, max_characters=1000)
    # Not known yet: checked against Mastodon's default now, the instance read meanwhile.
    first = posted(api, made["id"], caption="a" * 900, post_type="text")
    assert first.status_code == 422 and "Mastodon (by default) allows 500" in first.text
    for _ in range(200):
        if instance.fresh(server) is not None:
            break
        time.sleep(0.05)
    assert posted(api, made["id"], caption="a" * 900, post_type="text").status_code == 201


def fake_reads(fake: FakeServer) -> int:
    with fake.state.lock:
        return masto.store(fake.state).instance_reads


async def test_each_post_type_publishes_through_the_worker_once(herald, api, fake,
                                                              company) -> None:
    made = account(api, fake)
    image = {"url": f"{fake.url}/_fake/files/a.jpg", "type": "image", "alt_text": "teal"}
    video = {"url": f"{fake.url}/_fake/files/v.mp4", "type": "video"}
    fake.state.add_fault("drop", platform="mastodon", endpoint="commit", count=1)
    ids = []
    for fields in (dict(post_type="text", caption="Hello #herald",
                        options={"visibility": "unlisted", "language": "en"}),
                   dict(post_type="feed", caption="One image", media=[image],
                        options={"spoiler_text": "cw"}),
                   dict(post_type="carousel", caption="Two", media=[image, image]),
                   dict(post_type="video", caption="A video", media=[video])):
        ids += await asyncio.to_thread(create, herald, company[0], account_id=made["id"],
                                       **fields)
    posts = await drain(herald, ids)
    assert {p.status for p in posts.values()} == {"published"}, {
        p.caption: p.error_message for p in posts.values()}
    alice = masto.account_by_name(fake.state, "alice")
    assert alice is not None
    statuses = masto.statuses(fake.state, alice.id)
    # One commit's answer was dropped: reconciled, not sent twice.
    assert len(statuses) == 4 == len(fake.state.published(platform="mastodon"))
    assert {p.external_post_id for p in posts.values()} == {s.id for s in statuses}
    kinds = {s.text: (s.visibility, s.spoiler_text, len(s.media_ids)) for s in statuses}
    assert kinds["Hello #herald"] == ("unlisted", "", 0)
    assert kinds["One image"] == ("public", "cw", 1)
    assert kinds["Two"][2] == 2 and kinds["A video"][2] == 1


async def test_a_first_comment_is_a_reply_under_the_status(herald, api, fake,
                                                          company) -> None:
    made = account(api, fake)
    [post_id] = await asyncio.to_thread(create, herald, company[0], account_id=made["id"],
                                        post_type="text", caption="The post",
                                        first_comment="The comment")
    posts = await drain(herald, [post_id])
    assert posts[post_id].status == "published", posts[post_id].error_message
    found = await settled(herald, company[0], post_id, "published")
    assert found.first_comment_state.status == "published"
    alice = masto.account_by_name(fake.state, "alice")
    assert alice is not None
    by_text = {s.text: s for s in masto.statuses(fake.state, alice.id)}
    assert by_text["The comment"].in_reply_to_id == posts[post_id].external_post_id
    assert len(by_text) == 2


async def test_a_sandbox_account_publishes_to_the_sandbox_instance(herald, company) -> None:
    from bench.platform import free_port

    port = free_port()
    settings = herald.settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    local = Herald.build(settings, db=herald.db, platforms=True, sandbox=True, quick=True)
    with FakeServer(app=create_app(local), port=port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={
                "Authorization": f"Bearer {company[1]}"}) as client:
            made = (await client.post("/api/v1/accounts", json={
                "platform": "mastodon", "name": "Sandbox", "sandbox": True})).json()
            assert made["external_id"].startswith("sandbox") and made["server_url"] is None
            ids = await asyncio.to_thread(create, local, company[0], account_id=made["id"],
                                          post_type="text", caption="Hello sandbox")
            posts = await drain(local, ids)
    [post] = posts.values()
    assert post.status == "published", post.error_message
    assert local.sandbox is not None
    [record] = local.sandbox.state.published(platform="mastodon")
    assert record.caption == "Hello sandbox" and "/sandbox/" in (post.permalink or "")
