"""Facebook Page Reels and Stories through the real worker and client, over real HTTP to the
fake: upload sessions, rupload, finish, status polls, and lost answers settled."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from herald.app import build_worker
from herald.models import Post
from herald.platforms.facebook.fake.models import FbVideo
from herald.platforms.facebook.fake.reels import REELS_PER_DAY, stories_of
from herald.platforms.fake import FakeServer
from herald.runtime import Herald
from tests.app.test_publish_e2e import FB, create, drain, media
from tests.helpers import add_account, make_due
from tests.media_files import image_bytes, mp4_bytes


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def herald(herald, fake):
    settings = herald.settings.model_copy(update={
        "graph_api_url": fake.graph_url, "linkedin_api_url": fake.linkedin_url})
    return Herald.build(settings, db=herald.db, platforms=True, quick=True)


@pytest.fixture
def page(herald, fake, company) -> str:
    account_id = add_account(herald, company[0], "facebook", FB)
    fake.state.add_account("facebook", FB, "secret-token-" + FB)
    for name, content, kind in (
            ("reel.mp4", mp4_bytes(seconds=12, data_bytes=200_000), "video/mp4"),
            ("story.jpg", image_bytes(size=(1080, 1920)), "image/jpeg")):
        fake.state.add_file(name, content, kind)
    return account_id


def _reel_calls(fake: FakeServer) -> list[str]:
    return [c.endpoint for c in fake.state.commits() if c.platform == "facebook"]


@pytest.mark.all_engines
async def test_a_reel_and_both_stories_publish_end_to_end(herald, fake, page, company):
    c = company[0]
    plan = [dict(post_type="reel", caption="FB reel #herald", media=media(fake, "reel.mp4")),
            dict(post_type="story", media=media(fake, "story.jpg")),
            dict(post_type="story", media=media(fake, "reel.mp4"))]
    ids = [pid for fields in plan
           for pid in await asyncio.to_thread(create, herald, c, account_id=page, **fields)]
    posts = await drain(herald, ids)
    assert {p.status for p in posts.values()} == {"published"}, {
        p.post_type: p.error_message for p in posts.values()}
    reel, photo_story, video_story = (posts[i] for i in ids)
    # The reel is its video, published (not a draft: finish said video_state=PUBLISHED).
    node = fake.state.data.nodes[reel.external_post_id]
    assert isinstance(node, FbVideo) and node.kind == "reel"
    assert node.finished_at is not None and node.description == "FB reel #herald"
    assert node.file_url == media(fake, "reel.mp4")[0]["url"]
    stories = stories_of(fake.state, FB)
    assert {(s.id, s.media_type) for s in stories} == {
        (photo_story.external_post_id, "photo"), (video_story.external_post_id, "video")}
    assert all(p.permalink for p in posts.values())
    kinds = sorted(r.kind for r in fake.state.published(platform="facebook"))
    assert kinds == ["reel", "story", "story"]
    # Nothing went to /videos, where Postiz's reels end up as drafts.
    assert "videos" not in _reel_calls(fake)


@pytest.mark.parametrize("post_type,name", [("reel", "reel.mp4"), ("story", "reel.mp4"),
                                            ("story", "story.jpg")])
async def test_a_lost_answer_to_the_commit_is_reconciled_without_a_duplicate(
    herald, fake, page, company, post_type, name
):
    """finish (or photo_stories) applied, its answer lost: the video's status or the
    Page's stories say it went out; nothing is sent twice."""
    fake.state.add_fault("drop", platform="facebook", endpoint="commit", count=1)
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=page,
                                    post_type=post_type, media=media(fake, name),
                                    caption="lost answer" if post_type == "reel" else "")
    [post] = (await drain(herald, [pid])).values()
    assert post.status == "published", post.error_message
    records = fake.state.published(platform="facebook")
    assert [r.external_id for r in records] == [post.external_post_id]
    assert [c.outcome for c in fake.state.commits()] == ["dropped"]


async def test_a_finish_that_never_arrived_finishes_the_same_session(
    herald, fake, page, company
):
    """The connection died before Meta took finish: its status says not published, and
    the same upload session is finished once more (no second upload)."""
    fake.state.add_fault("reset", platform="facebook", endpoint="commit", count=1)
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=page,
                                    post_type="reel", caption="reset once",
                                    media=media(fake, "reel.mp4"))
    [post] = (await drain(herald, [pid])).values()
    assert post.status == "published", post.error_message
    assert [r.external_id for r in fake.state.published()] == [post.external_post_id]
    sessions = [n for n in fake.state.data.nodes.values() if isinstance(n, FbVideo)]
    assert [v.id for v in sessions] == [post.external_post_id]


async def test_a_retryable_upload_failure_is_retried_not_failed(herald, fake, page, company):
    """Meta's Video API says code 390 (1363030, upload timed out) is worth retrying."""
    fake.state.add_fault("error", platform="facebook", endpoint="upload", code=390,
                         subcode=1363030, count=1)
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=page,
                                    post_type="reel", caption="retried upload",
                                    media=media(fake, "reel.mp4"))
    await build_worker(herald, worker_id="e2e", concurrency=2).run(until_idle=True)
    with herald.db.session() as s:
        post = s.get(Post, pid)
        assert post.status == "pending"  # to be sent again, not failed
        assert "sent again shortly" in (post.error_message or "")
    assert fake.state.published() == []
    make_due(herald, [pid])  # rather than wait out the backoff
    [post] = (await drain(herald, [pid])).values()
    assert post.status == "published", post.error_message
    assert len(fake.state.published()) == 1


async def test_a_page_at_its_reels_limit_waits_for_a_slot(herald, fake, page, company):
    """30 reels in the last 24 hours: Herald does not start a 31st; it retries later."""
    fake.state.data.platforms.setdefault("fb_reels", {})
    for _ in range(REELS_PER_DAY):
        _publish_reel_directly(fake)
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=page,
                                    post_type="reel", caption="one too many",
                                    media=media(fake, "reel.mp4"))
    worker = build_worker(herald, worker_id="e2e", concurrency=2)
    await worker.run(until_idle=True)
    await herald.aclose()
    with herald.db.session() as s:
        post = s.get(Post, pid)
        assert post.status == "pending"
        assert "30 reels" in (post.error_message or "")
    assert len(fake.state.published()) == REELS_PER_DAY


def _publish_reel_directly(fake: FakeServer) -> None:
    import httpx

    root = f"{fake.graph_url}/v25.0/{FB}/video_reels"
    headers = {"Authorization": f"Bearer secret-token-{FB}"}
    with httpx.Client(headers=headers) as client:
        start = client.post(root, json={"upload_phase": "start"}).raise_for_status().json()
        client.post(start["upload_url"], headers={
            "Authorization": f"OAuth secret-token-{FB}",
            "file_url": f"{fake.url}/_fake/files/reel.mp4"}).raise_for_status()
        client.post(root, json={"upload_phase": "finish", "video_id": start["video_id"],
                                "video_state": "PUBLISHED", "description": "direct"}
                    ).raise_for_status()


async def test_a_first_comment_on_a_reel_goes_on_its_video(herald, fake, page, company):
    from herald.platforms.graph.fake_comments import comments_on
    from tests.app.test_first_comments_e2e import settled

    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=page,
                                    post_type="reel", caption="reel with a comment",
                                    media=media(fake, "reel.mp4"),
                                    first_comment="More in the comments")
    worker = build_worker(herald, worker_id="e2e", concurrency=2)
    task = asyncio.create_task(worker.run())
    try:
        post = await settled(herald, company[0], pid, "published")
    finally:
        worker.stop()
        await task
        await herald.aclose()
    assert post.status == "published"
    assert [c["message"] for c in comments_on(fake.state, post.external_post_id)] == [
        "More in the comments"]


async def test_a_sandbox_page_publishes_a_reel_and_a_sandbox_member_a_poll(herald, company):
    """`herald run`'s sandbox serves reels (rupload under /sandbox) and polls too."""
    import httpx

    from bench.platform import free_port
    from herald.app import create_app

    port = free_port()
    settings = herald.settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    local = Herald.build(settings, db=herald.db, platforms=True, sandbox=True, quick=True)
    assert local.media_store is not None
    clip = local.media_store.save(mp4_bytes(seconds=12, data_bytes=100_000),
                                  filename="reel.mp4").url
    with FakeServer(app=create_app(local), port=port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={
                "Authorization": f"Bearer {company[1]}"}) as client:
            made = {p: (await client.post("/api/v1/accounts", json={
                "platform": p, "name": "Sandbox", "sandbox": True})).json()["id"]
                for p in ("facebook", "linkedin")}
            ids = await asyncio.to_thread(create, local, company[0],
                                          account_id=made["facebook"], post_type="reel",
                                          caption="Sandbox reel",
                                          media=[{"url": clip, "type": "video"}])
            ids += await asyncio.to_thread(
                create, local, company[0], account_id=made["linkedin"], post_type="poll",
                caption="Sandbox poll", options={"poll": {
                    "question": "Tea or coffee?", "options": ["Tea", "Coffee"]}})
            posts = await drain(local, ids)
    assert {p.status for p in posts.values()} == {"published"}, {
        p.post_type: p.error_message for p in posts.values()}
    assert local.sandbox is not None
    kinds = sorted(r.kind for r in local.sandbox.state.published())
    assert kinds == ["poll", "reel"]
