"""Instagram through Instagram Login (graph.instagram.com), end to end: every post type
through the real worker and the real (shared) Instagram publisher over real HTTP to the
fake; the post options as the API wants them; an unknown outcome reconciled; the token
refreshed through the fake before it expires."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from herald.models import SocialToken, utcnow
from herald.platforms.fake import FakeServer
from herald.platforms.instagram.fake.models import Container
from herald.runtime import Herald
from tests.app.test_publish_e2e import create, drain, media
from tests.helpers import add_account
from tests.media_files import image_bytes, mp4_bytes

IG = "17841000077"
TOKEN = "secret-token-" + IG


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def herald(herald, fake):
    settings = herald.settings.model_copy(update={
        "graph_api_url": fake.graph_url, "instagram_api_url": fake.instagram_url})
    return Herald.build(settings, db=herald.db, platforms=True, quick=True)


@pytest.fixture
def account(herald, fake, company) -> str:
    fake.state.add_account("instagram_login", IG, TOKEN, username="acme.studio")
    files = {"square.jpg": (image_bytes(size=(1080, 1080)), "image/jpeg"),
             "tall.jpg": (image_bytes(size=(1080, 1350)), "image/jpeg"),
             "story.jpg": (image_bytes(size=(1080, 1920)), "image/jpeg"),
             "clip.mp4": (mp4_bytes(seconds=12, data_bytes=200_000), "video/mp4")}
    for name, (content, kind) in files.items():
        fake.state.add_file(name, content, kind)
    return add_account(herald, company[0], "instagram_login", IG)


def containers(fake: FakeServer) -> list[Container]:
    with fake.state.lock:
        return [n for n in fake.state.data.nodes.values() if isinstance(n, Container)]


@pytest.mark.all_engines
async def test_every_instagram_login_post_type_publishes_end_to_end(herald, fake, account,
                                                                     company):
    plan = [
        dict(post_type="feed", caption="IGL feed #herald", media=media(fake, "square.jpg"),
             first_comment="First!"),
        dict(post_type="carousel", caption="IGL carousel",
             media=media(fake, "square.jpg", "tall.jpg", "clip.mp4")),
        dict(post_type="reel", caption="IGL reel", media=media(fake, "clip.mp4")),
        dict(post_type="story", media=media(fake, "story.jpg")),
        dict(post_type="feed_story", caption="IGL feed and story",
             media=media(fake, "tall.jpg")),
    ]
    ids = [pid for fields in plan for pid in await asyncio.to_thread(
        create, herald, company[0], account_id=account, **fields)]
    posts = await drain(herald, ids)
    assert {p.status for p in posts.values()} == {"published"}, {
        p.post_type: p.error_message for p in posts.values()}
    published = fake.state.published(platform="instagram_login")
    # feed_story is two posts: six in all, each once, on graph.instagram.com's account.
    assert sorted(r.kind for r in published) == ["carousel", "image", "image", "reel",
                                                 "story", "story"]
    assert {p.external_post_id for p in posts.values()} == {r.external_id for r in published}
    assert fake.state.published(platform="instagram") == []
    # The first comment went under the feed post, as the second step.
    [feed] = [p for p in posts.values() if p.caption == "IGL feed #herald"]
    from herald.platforms.graph.fake_comments import comments_on

    assert [c["message"] for c in comments_on(fake.state, feed.external_post_id)] == ["First!"]


async def test_the_options_reach_the_containers_as_the_api_wants_them(herald, fake, account,
                                                                      company):
    options = {"collaborators": ["jane.doe", "@bob_b"], "location_id": "110843418940484",
               "user_tags": [{"username": "jane.doe", "x": 0.25, "y": 0.75}]}
    reel = {"collaborators": ["jane.doe"], "user_tags": [{"username": "bob_b"}],
            "trial_params": {"graduation_strategy": "SS_PERFORMANCE"}}
    carousel = {"user_tags": [{"username": "jane.doe", "x": 0.5, "y": 0.5, "media": 2}],
                "collaborators": ["jane.doe"]}
    ids = []
    for fields in (dict(post_type="feed", caption="tagged", media=media(fake, "square.jpg"),
                        options=options),
                   dict(post_type="reel", caption="trial", media=media(fake, "clip.mp4"),
                        options=reel),
                   dict(post_type="carousel", caption="items",
                        media=media(fake, "square.jpg", "tall.jpg"), options=carousel)):
        ids += await asyncio.to_thread(create, herald, company[0], account_id=account, **fields)
    posts = await drain(herald, ids)
    assert {p.status for p in posts.values()} == {"published"}, {
        p.post_type: p.error_message for p in posts.values()}
    by_caption = {c.caption: c for c in containers(fake) if not c.is_carousel_item}
    image = by_caption["tagged"].options
    assert image["collaborators"] == ["jane.doe", "bob_b"]
    assert image["location_id"] == "110843418940484"
    assert image["user_tags"] == [{"username": "jane.doe", "x": 0.25, "y": 0.75}]
    trial = by_caption["trial"].options
    assert trial["media_type"] == "REELS"
    assert trial["trial_params"] == {"graduation_strategy": "SS_PERFORMANCE"}
    assert trial["user_tags"] == [{"username": "bob_b"}]
    parent = by_caption["items"]
    assert "user_tags" not in parent.options and parent.options["collaborators"] == ["jane.doe"]
    children = {c.id: c for c in containers(fake) if c.is_carousel_item}
    first, second = (children[i] for i in parent.children)
    assert "user_tags" not in first.options
    assert second.options["user_tags"] == [{"username": "jane.doe", "x": 0.5, "y": 0.5}]


async def test_a_publish_whose_answer_is_lost_is_reconciled_not_reposted(herald, fake,
                                                                         account, company):
    # media_publish goes through but its answer never arrives: outcome unknown.
    fake.state.add_fault("drop", platform="instagram_login", endpoint="commit", count=1)
    ids = await asyncio.to_thread(create, herald, company[0], account_id=account,
                                  post_type="feed", caption="answer lost once",
                                  media=media(fake, "square.jpg"))
    posts = await drain(herald, ids)
    [post] = posts.values()
    assert post.status == "published", post.error_message
    [record] = fake.state.published(platform="instagram_login")
    assert record.dropped and post.external_post_id == record.external_id
    applied = [c for c in fake.state.commits(platform="instagram_login") if c.applied]
    assert len(applied) == 1


async def test_a_token_close_to_expiry_is_refreshed_through_instagram(herald, fake, company):
    # Connected 55 days ago: 5 days left, inside the 7-day refresh window.
    fake.state.add_account("instagram_login", IG, TOKEN, token_expires_in=5 * 86400)
    fake.state.add_file("square.jpg", image_bytes(size=(1080, 1080)), "image/jpeg")
    fake.state.advance(2 * 86400)  # the 24-hour minimum age Instagram asks for
    account = add_account(herald, company[0], "instagram_login", IG,
                          token_expires_at=utcnow() + timedelta(days=5))
    ids = await asyncio.to_thread(create, herald, company[0], account_id=account,
                                  post_type="feed", caption="after a refresh",
                                  media=media(fake, "square.jpg"))
    posts = await drain(herald, ids)
    assert [p.status for p in posts.values()] == ["published"]
    with herald.db.session() as s:
        row = s.get(SocialToken, account)
        fresh = herald.cipher.decrypt(row.access_token_enc)
    assert fresh != TOKEN and fresh.startswith("IGAA")
    assert row.refresh_token_enc is None  # the token refreshes itself
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(
        tzinfo=utcnow().tzinfo)
    assert expires > utcnow() + timedelta(days=50)
    assert fake.state.token("instagram_login", fresh) is not None


def _problems(client, auth, account: str, **fields: Any) -> str:
    body = {"account_id": account, "run_at": "now", **fields}
    response = client.post("/api/v1/posts", json=body, headers=auth)
    assert response.status_code == 422, response.text
    return json.dumps(response.json())


@pytest.mark.parametrize("platform", ["instagram", "instagram_login"])
def test_bad_options_are_refused_when_scheduled(client, herald, company, auth, image_url,
                                                platform):
    account = add_account(herald, company[0], platform, IG)
    image = [{"url": image_url, "type": "image"}]
    six = _problems(client, auth, account, post_type="feed", media=image, options={
        "collaborators": ["a1", "b2", "c3", "d4", "e5", "f6"]})
    assert "at most 5 collaborators" in six and "has 6" in six
    off = _problems(client, auth, account, post_type="feed", media=image, options={
        "user_tags": [{"username": "jane.doe", "x": 1.5, "y": 0.2}]})
    assert "x must be between 0 and 1" in off and "1.5" in off
    trial = _problems(client, auth, account, post_type="feed", media=image, options={
        "trial_params": {"graduation_strategy": "MANUAL"}})
    assert "reels only" in trial and "options.trial_params" in trial
    story = _problems(client, auth, account, post_type="story", media=image, options={
        "collaborators": ["jane.doe"]})
    assert "not on story posts" in story


async def test_a_sandbox_instagram_login_account_publishes_to_the_sandbox(herald, company):
    import httpx

    from bench.platform import free_port
    from herald.app import create_app

    port = free_port()
    settings = herald.settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    local = Herald.build(settings, db=herald.db, platforms=True, sandbox=True, quick=True)
    assert local.media_store is not None
    image_url = local.media_store.save(image_bytes(size=(1080, 1080)),
                                       filename="square.jpg").url
    with FakeServer(app=create_app(local), port=port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={
                "Authorization": f"Bearer {company[1]}"}) as client:
            made = (await client.post("/api/v1/accounts", json={
                "platform": "instagram_login", "name": "Sandbox IG", "sandbox": True})).json()
            assert made["external_id"].startswith("17841")
            ids = await asyncio.to_thread(
                create, local, company[0], account_id=made["id"], post_type="feed",
                caption="Hello sandbox", media=[{"url": image_url, "type": "image"}],
                options={"collaborators": ["jane.doe"]})
            posts = await drain(local, ids)
    [post] = posts.values()
    assert post.status == "published", post.error_message
    assert local.sandbox is not None
    [record] = local.sandbox.state.published(platform="instagram_login")
    assert record.caption == "Hello sandbox" and "/sandbox/" in (post.permalink or "")


async def test_the_sweep_refreshes_a_token_whose_account_posts_nothing(herald, fake, company):
    from herald.tokens import TokenSweep

    fake.state.add_account("instagram_login", IG, TOKEN, token_expires_in=3 * 86400)
    fake.state.advance(2 * 86400)
    quiet = add_account(herald, company[0], "instagram_login", IG,
                        token_expires_at=utcnow() + timedelta(days=3))
    later = add_account(herald, company[0], "instagram_login", "17841000078",
                        token_expires_at=utcnow() + timedelta(days=30))
    assert herald.refresher is not None
    assert await herald.refresher.sweep() == 1
    await TokenSweep(herald.refresher).drain()  # nothing is due any more: no second refresh
    with herald.db.session() as s:
        tokens = {a: herald.cipher.decrypt(s.get(SocialToken, a).access_token_enc)
                  for a in (quiet, later)}
    assert tokens[quiet].startswith("IGAA") and fake.state.token("instagram_login",
                                                                 tokens[quiet]) is not None
    assert tokens[later] == "secret-token-17841000078"  # 30 days left: not yet
    assert len([t for t in fake.state.data.api_tokens["instagram_login"]
                if t.startswith("IGAA")]) == 1
    await herald.aclose()


def test_a_feed_storys_story_goes_without_the_options_its_feed_post_takes(herald, company,
                                                                         image_url):
    from herald.models import Post

    account = add_account(herald, company[0], "instagram_login", IG)
    ids = create(herald, company[0], account_id=account, post_type="feed_story",
                 caption="Both", media=[{"url": image_url, "type": "image"}],
                 options={"collaborators": ["jane.doe"], "location_id": "123",
                          "first_comment": "Hi"})
    with herald.db.session() as s:
        kept = {p.post_type: p.options for p in (s.get(Post, i) for i in ids)}
    assert kept == {"feed": {"collaborators": ["jane.doe"], "location_id": "123",
                             "first_comment": "Hi"}, "story": {}}
