"""Bluesky against a real PDS (@atproto/pds on loopback, tests/process/pds.py): accounts
checked by their app password, posts published by the real worker and client and read back,
and a resend under a record key the PDS already holds is not a second post."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from herald.app import create_app
from herald.media.fetch import FetchRules, SafeFetcher
from herald.models import Post, PublishAttempt
from herald.platforms.base import AccountRef, History, PublishJob
from herald.platforms.bluesky import tid
from herald.platforms.bluesky.client import BlueskyPublisher
from herald.platforms.fake import FakeServer
from herald.runtime import Herald
from tests.app.test_publish_e2e import create, drain
from tests.media_files import image_bytes
from tests.process.pds import Pds, PdsAccount, start


@pytest.fixture(scope="module")
def pds() -> Iterator[Pds]:
    yield from start()


@pytest.fixture(scope="module")
def files() -> Iterator[FakeServer]:
    """Media for the posts, served over HTTP (the platform fake's file hosting)."""
    with FakeServer() as server:
        server.state.add_file("wide.jpg", image_bytes(size=(1200, 600)), "image/jpeg")
        server.state.add_file("square.png", image_bytes(size=(500, 500), fmt="PNG"),
                              "image/png")
        yield server


@pytest.fixture
def herald(herald, pds):
    if herald.db.dialect != "sqlite":
        pytest.skip("one engine is enough for the PDS tests (the queue is tested on all)")
    settings = herald.settings.model_copy(update={"allow_private_server_urls": True})
    return Herald.build(settings, db=herald.db, platforms=True, quick=True)


@pytest.fixture
def api(herald, company) -> Iterator[TestClient]:
    with TestClient(create_app(herald)) as client:
        client.headers["Authorization"] = f"Bearer {company[1]}"
        yield client


_COUNT = iter(range(1, 10_000))


@pytest.fixture
def alice(pds: Pds) -> PdsAccount:
    return pds.create_account(f"alice{next(_COUNT)}.test")


def connect(api: TestClient, pds: Pds, who: PdsAccount, password: str | None = None):
    return api.post("/api/v1/accounts", json={
        "platform": "bluesky", "name": who.handle, "external_id": who.handle,
        "access_token": password or who.app_password, "server_url": pds.url})


def test_a_wrong_app_password_is_refused_when_the_account_is_added(api, pds, alice):
    refused = connect(api, pds, alice, password="aaaa-bbbb-cccc-dddd")
    assert refused.status_code == 422
    assert "Invalid identifier or password" in refused.json()["error"]["message"]
    assert connect(api, pds, alice).status_code == 201


async def test_text_images_and_links_publish_and_read_back(herald, api, pds, alice, files,
                                                          company):
    bob = pds.create_account(f"bob{next(_COUNT)}.test")
    account = connect(api, pds, alice).json()
    text = f"Café ☕ with @{bob.handle}: https://example.com/launch?x=1 #herald"
    images = [{"url": f"{files.url}/_fake/files/wide.jpg", "type": "image",
               "alt_text": "A wide teal picture"},
              {"url": f"{files.url}/_fake/files/square.png", "type": "image"}]
    plan = [dict(post_type="text", caption=text, first_comment="And a reply, through the "
                                                               "comment step"),
            dict(post_type="carousel", caption="Two pictures", media=images),
            dict(post_type="article", caption="A card",
                 options={"link": "https://example.com/", "title": "Example",
                          "description": "An example"})]
    ids = []
    for fields in plan:
        ids += await asyncio.to_thread(create, herald, company[0], account_id=account["id"],
                                       **fields)
    posts = await drain(herald, ids, timeout=120)
    assert {p.status for p in posts.values()} == {"published"}, {
        p.caption: p.error_message for p in posts.values()}
    records = {r["value"]["text"]: r for r in pds.records(alice.did)}
    reply = records.pop("And a reply, through the comment step")
    assert len(records) == 3
    assert {p.external_post_id for p in posts.values()} == {r["uri"] for r in records.values()}
    # The first comment: the comment step's reply record under the post, journaled.
    assert reply["value"]["reply"]["parent"]["uri"] == records[text]["uri"]
    [with_comment] = [p for p in posts.values() if p.caption == text]
    with herald.db.session() as s:
        [attempt] = s.query(PublishAttempt).filter_by(post_id=with_comment.id).all()
    assert attempt.phase == "commented"
    assert attempt.platform_ids["first_comment_id"] == reply["uri"]

    facets = records[text]["value"]["facets"]
    raw = text.encode()
    spans = {f["features"][0]["$type"].rsplit("#")[-1]:
             (raw[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(), f["features"][0])
             for f in facets}
    assert spans["mention"] == (f"@{bob.handle}", {
        "$type": "app.bsky.richtext.facet#mention", "did": bob.did})
    assert spans["link"][0] == "https://example.com/launch?x=1"
    assert spans["tag"][0] == "#herald"

    embed = records["Two pictures"]["value"]["embed"]
    assert [i["alt"] for i in embed["images"]] == ["A wide teal picture", ""]
    assert embed["images"][0]["aspectRatio"] == {"width": 1200, "height": 600}
    cid = embed["images"][1]["image"]["ref"]["$link"]
    assert pds.blob(alice.did, cid).startswith(b"\x89PNG")
    card = records["A card"]["value"]["embed"]["external"]
    assert card == {"uri": "https://example.com/", "title": "Example",
                    "description": "An example"}


def job_for(pds: Pds, who: PdsAccount, post_id: str, caption: str,
            **options: str) -> PublishJob:
    account = AccountRef(id="acc", platform="bluesky", external_id=who.handle, name="A",
                         access_token=who.app_password, server_url=pds.url)
    return PublishJob(post_id=post_id, attempt=1, platform="bluesky", post_type="text",
                      caption=caption, media=(), account=account,
                      run_at=datetime(2026, 12, 3, 12, tzinfo=UTC), history=History(),
                      options=dict(options))


async def test_a_resend_under_the_same_key_is_not_a_second_post(pds, alice):
    async with httpx.AsyncClient(timeout=30) as client:
        bluesky = BlueskyPublisher(client, fetcher=SafeFetcher(client, FetchRules()),
                                   allow_private_servers=True)
        job = job_for(pds, alice, "post-dup", "Only once")
        first = await bluesky.publish(job)
        again = await bluesky.publish(job)  # a retry after the answer was lost
        # The PDS refused the second record under the key (HTTP 500), and the read back
        # found the first: the same post, reported once.
        assert again.external_id == first.external_id and again.extra["reconciled"]
        reconciled = await bluesky.reconcile(job)
        assert reconciled is not None and reconciled.external_id == first.external_id
        # The first comment (herald.first_comment' step) resent is the same reply, once.
        reply = await bluesky.comment(job, first, "One reply")
        assert await bluesky.comment(job, again, "One reply") == reply
        assert await bluesky.find_comment(job, first, "One reply") == reply
    records = {r["value"]["text"]: r["value"] for r in pds.records(alice.did)}
    assert sorted(records) == ["One reply", "Only once"]
    assert records["One reply"]["reply"]["parent"]["uri"] == first.external_id


async def test_a_worker_finding_its_key_taken_by_its_own_post_reports_it_once(
        herald, api, pds, alice, company):
    """The first attempt landed but its answer was lost: the next attempt's createRecord
    under the same key is refused, and the worker reads the key back."""
    account = connect(api, pds, alice).json()
    [post_id] = await asyncio.to_thread(create, herald, company[0], account_id=account["id"],
                                        post_type="text", caption="Landed before")
    with herald.db.session() as session:
        run_at = session.get(Post, post_id).scheduled_at
    async with httpx.AsyncClient(timeout=30) as client:
        session_body = (await client.post(
            f"{pds.url}/xrpc/com.atproto.server.createSession",
            json={"identifier": alice.handle, "password": alice.app_password})).json()
        rkey = tid.post_rkey(post_id, run_at)
        landed = await client.post(
            f"{pds.url}/xrpc/com.atproto.repo.createRecord",
            headers={"Authorization": f"Bearer {session_body['accessJwt']}"},
            json={"repo": alice.did, "collection": "app.bsky.feed.post", "rkey": rkey,
                  "record": {"$type": "app.bsky.feed.post", "text": "Landed before",
                             "createdAt": "2026-12-03T12:00:00.000Z"}})
        assert landed.status_code == 200, landed.text
        duplicate = await client.post(
            f"{pds.url}/xrpc/com.atproto.repo.createRecord",
            headers={"Authorization": f"Bearer {session_body['accessJwt']}"},
            json={"repo": alice.did, "collection": "app.bsky.feed.post", "rkey": rkey,
                  "record": {"$type": "app.bsky.feed.post", "text": "Landed before",
                             "createdAt": "2026-12-03T12:00:00.000Z"}})
    # What the PDS answers to a second record under one key (docs/platforms/bluesky.md).
    assert duplicate.status_code == 500
    assert duplicate.json()["error"] == "InternalServerError"
    posts = await drain(herald, [post_id], timeout=120)
    [post] = posts.values()
    assert post.status == "published", post.error_message
    assert post.external_post_id == landed.json()["uri"]
    assert len(pds.records(alice.did)) == 1
