"""Bluesky from the API to the PDS: accounts checked with their app password, posts checked
when scheduled, and published by the real worker and client to the fake PDS over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from herald.app import create_app
from herald.platforms.bluesky.fake import store as pds
from herald.platforms.fake import FakeServer
from herald.runtime import Herald
from tests.app.test_publish_e2e import create, drain
from tests.media_files import image_bytes

HANDLE, PASSWORD = "alice.test", "abcd-efgh-ijkl-mnop"


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        pds.add_account(server.state, HANDLE, PASSWORD)
        pds.add_account(server.state, "bob.test", "x")
        server.state.add_file("a.jpg", image_bytes(size=(1000, 1000)), "image/jpeg")
        yield server


@pytest.fixture
def herald(herald, fake):
    """Real clients (platforms=True), allowed to reach the fake PDS on loopback."""
    settings = herald.settings.model_copy(update={"allow_private_server_urls": True})
    return Herald.build(settings, db=herald.db, platforms=True, quick=True)


@pytest.fixture
def api(herald, company) -> Iterator[TestClient]:
    with TestClient(create_app(herald)) as client:
        client.headers["Authorization"] = f"Bearer {company[1]}"
        yield client


def account(api: TestClient, fake: FakeServer, **changes) -> dict:
    body = {"platform": "bluesky", "name": "Alice", "external_id": HANDLE,
            "access_token": PASSWORD, "server_url": f"{fake.url}/bluesky/", **changes}
    resp = api.post("/api/v1/accounts", json=body)
    return {"status": resp.status_code, **resp.json()}


def test_an_account_is_checked_with_its_app_password(api, fake) -> None:
    made = account(api, fake)
    assert made["status"] == 201, made
    assert made["server_url"] == f"{fake.url}/bluesky"  # normalized, no trailing slash
    assert "access_token" not in made
    refused = account(api, fake, access_token="wrong-password", external_id="bob.test")
    assert refused["status"] == 422
    assert "app password" in refused["error"]["message"]


def test_server_urls_are_for_platforms_whose_accounts_choose_one(api, fake) -> None:
    refused = account(api, fake, platform="linkedin", external_id="urn:li:person:x")
    assert refused["status"] == 422 and "take no server_url" in refused["error"]["message"]
    sandbox = api.post("/api/v1/accounts", json={"platform": "bluesky", "name": "S",
                                                  "sandbox": True, "server_url": fake.url})
    assert sandbox.status_code == 422


def test_a_private_server_is_refused_by_default(herald, company, fake) -> None:
    strict = herald.settings.model_copy(update={"allow_private_server_urls": False})
    with TestClient(create_app(Herald.build(strict, db=herald.db, platforms=True))) as client:
        client.headers["Authorization"] = f"Bearer {company[1]}"
        made = account(client, fake)
        assert made["status"] == 422 and "https://" in made["error"]["message"]
        made = account(client, fake, server_url="https://127.0.0.1/")
        assert made["status"] == 422 and "public internet" in made["error"]["message"]


def test_bad_posts_are_refused_when_scheduled(api, fake) -> None:
    made = account(api, fake)
    image = {"url": f"{fake.url}/_fake/files/a.jpg", "type": "image"}
    long = api.post("/api/v1/posts", json={"account_id": made["id"], "caption": "a" * 301,
                                           "run_at": "now"})
    assert long.status_code == 422 and "300 characters" in long.text
    five = api.post("/api/v1/posts", json={"account_id": made["id"], "caption": "five",
                                           "media": [image] * 5, "run_at": "now"})
    assert five.status_code == 422 and "at most 4 images" in five.text


async def test_posts_publish_through_the_worker_once(herald, api, fake, company) -> None:
    made = account(api, fake)
    image = {"url": f"{fake.url}/_fake/files/a.jpg", "type": "image", "alt_text": "teal"}
    fake.state.add_fault("drop", platform="bluesky", endpoint="commit", count=1)
    ids = []
    for fields in (dict(post_type="text", caption="Hello @bob.test #herald"),
                   dict(post_type="feed", caption="One image", media=[image]),
                   dict(post_type="article", caption="Card",
                        options={"link": "https://example.com", "title": "Example"})):
        ids += await asyncio.to_thread(create, herald, company[0], account_id=made["id"],
                                       **fields)
    posts = await drain(herald, ids)
    assert {p.status for p in posts.values()} == {"published"}, {
        p.caption: p.error_message for p in posts.values()}
    records = pds.records(fake.state, pds.did_for(HANDLE))
    assert len(records) == 3 == len(fake.state.published(platform="bluesky"))
    assert {p.external_post_id for p in posts.values()} == {r.uri for r in records.values()}


async def test_a_sandbox_account_publishes_to_the_sandbox_pds(herald, company) -> None:
    from bench.platform import free_port

    port = free_port()
    settings = herald.settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    local = Herald.build(settings, db=herald.db, platforms=True, sandbox=True, quick=True)
    with FakeServer(app=create_app(local), port=port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={
                "Authorization": f"Bearer {company[1]}"}) as client:
            made = (await client.post("/api/v1/accounts", json={
                "platform": "bluesky", "name": "Sandbox", "sandbox": True})).json()
            assert made["external_id"].endswith(".bsky.social") and made["server_url"] is None
            ids = await asyncio.to_thread(create, local, company[0], account_id=made["id"],
                                          post_type="text", caption="Hello sandbox #herald")
            posts = await drain(local, ids)
    [post] = posts.values()
    assert post.status == "published", post.error_message
    assert local.sandbox is not None
    [record] = local.sandbox.state.published(platform="bluesky")
    assert record.caption == "Hello sandbox #herald" and "/sandbox/" in (post.permalink or "")
