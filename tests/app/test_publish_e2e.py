"""Every post type, through the real worker and the real clients, over real HTTP to the fake."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from herald import services
from herald.app import build_worker
from herald.models import Post, PostSchedule, utcnow
from herald.platforms.fake import FakeServer
from herald.platforms.registry import REQUEST_TIMEOUT
from herald.queue import MAX_RESCUES, Queue
from herald.runtime import Herald
from herald.schemas import PostCreate
from tests.helpers import add_account
from tests.media_files import image_bytes, mp4_bytes

IG, FB, LI, LI_ORG = "17841000001", "1001", "urn:li:person:abc123", "urn:li:organization:42"


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def herald(herald, fake):
    """The conftest's Herald (its database), publishing through the real clients to the fake."""
    settings = herald.settings.model_copy(update={
        "graph_api_url": fake.graph_url, "linkedin_api_url": fake.linkedin_url})
    return Herald.build(settings, db=herald.db, platforms=True, quick=True)


@pytest.fixture
def live(herald, fake, company):
    """Herald publishing to the fake; accounts on both sides; media hosted by the fake."""
    ids = {}
    for platform, external in (("instagram", IG), ("facebook", FB), ("linkedin", LI),
                               ("linkedin", LI_ORG)):
        ids[external] = add_account(herald, company[0], platform, external)
        fake.state.add_account(platform, external, "secret-token-" + external)
    files = {"square.jpg": (image_bytes(size=(1080, 1080)), "image/jpeg"),
             "tall.jpg": (image_bytes(size=(1080, 1350)), "image/jpeg"),
             "story.jpg": (image_bytes(size=(1080, 1920)), "image/jpeg"),
             "clip.mp4": (mp4_bytes(seconds=12, data_bytes=200_000), "video/mp4")}
    for name, (content, kind) in files.items():
        fake.state.add_file(name, content, kind)
    return ids


def media(fake: FakeServer, *names: str) -> list[dict[str, Any]]:
    return [{"url": f"{fake.url}/_fake/files/{n}",
             "type": "video" if n.endswith(".mp4") else "image"} for n in names]


def create(herald, company_id: str, **fields: Any) -> list[str]:
    with herald.db.session() as session:
        posts = services.create_posts(session, herald.context(company_id),
                                      PostCreate(run_at="now", **fields))
        return [p.id for p in posts]


async def drain(herald, ids: list[str], timeout: float = 60.0) -> dict[str, Post]:
    worker = build_worker(herald, worker_id="e2e", concurrency=20)
    task = asyncio.create_task(worker.run())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            posts = await asyncio.to_thread(_posts, herald, ids)
            if all(p.status not in ("pending", "processing") for p in posts.values()):
                return posts
            assert asyncio.get_running_loop().time() < deadline, {
                p.post_type: (p.status, p.error_message) for p in posts.values()}
            await asyncio.sleep(0.1)
    finally:
        worker.stop()
        await task
        await herald.aclose()


def _posts(herald, ids):
    with herald.db.session() as s:
        return {pid: s.get(Post, pid) for pid in ids}


@pytest.mark.all_engines
async def test_every_post_type_publishes_end_to_end(herald, fake, live, company):
    c = company[0]
    plan = [
        dict(account_id=live[IG], post_type="feed", caption="IG feed #herald",
             media=media(fake, "square.jpg")),
        dict(account_id=live[IG], post_type="carousel", caption="IG carousel",
             media=media(fake, "square.jpg", "square.jpg", "clip.mp4")),
        dict(account_id=live[IG], post_type="reel", caption="IG reel",
             media=media(fake, "clip.mp4")),
        dict(account_id=live[IG], post_type="story", media=media(fake, "story.jpg")),
        dict(account_id=live[IG], post_type="feed_story", caption="IG feed and story",
             media=media(fake, "tall.jpg")),
        dict(account_id=live[FB], post_type="text", caption="FB text"),
        dict(account_id=live[FB], post_type="article", caption="FB link",
             options={"link": "https://example.com/launch"}),
        dict(account_id=live[FB], post_type="feed", caption="FB photo",
             media=media(fake, "square.jpg")),
        dict(account_id=live[FB], post_type="feed", caption="FB photos",
             media=media(fake, "square.jpg", "tall.jpg", "story.jpg")),
        dict(account_id=live[FB], post_type="video", caption="FB video",
             media=media(fake, "clip.mp4")),
        dict(account_id=live[LI], post_type="text", caption="LI text (with) [brackets] #launch"),
        dict(account_id=live[LI_ORG], post_type="article", caption="LI article",
             options={"link": "https://example.com/launch", "title": "Launch"}),
        dict(account_id=live[LI], post_type="feed", caption="LI image",
             media=media(fake, "square.jpg")),
        dict(account_id=live[LI_ORG], post_type="feed", caption="LI images",
             media=media(fake, "square.jpg", "tall.jpg")),
        dict(account_id=live[LI], post_type="video", caption="LI video",
             media=media(fake, "clip.mp4")),
    ]
    ids = [pid for fields in plan for pid in await asyncio.to_thread(create, herald, c,
                                                                     **fields)]
    posts = await drain(herald, ids)
    failed = {p.post_type + " " + p.platform: p.error_message
              for p in posts.values() if p.status != "published"}
    assert not failed
    assert all(p.external_post_id and p.permalink for p in posts.values())
    published = fake.state.published()
    assert len(published) == len(ids) == 16
    # Every external id Herald stored is one the platform handed out.
    assert {p.external_post_id for p in posts.values()} <= {r.external_id for r in published}
    # Little Text Format reached LinkedIn escaped, so nothing was cut.
    [li_text] = [r for r in published if r.caption.startswith("LI text")]
    assert li_text.caption == r"LI text \(with\) \[brackets\] #launch"


async def test_needs_reauth_from_the_platform_marks_the_account(herald, fake, live, company):
    from herald.models import SocialAccount

    fake.state.revoke_token("secret-token-" + FB)
    ids = await asyncio.to_thread(create, herald, company[0], account_id=live[FB],
                                  post_type="text", caption="will fail")
    posts = await drain(herald, ids)
    [post] = posts.values()
    assert post.status == "failed"
    assert "Reconnect" in post.error_message
    with herald.db.session() as s:
        assert s.get(SocialAccount, live[FB]).state == "needs_reauth"
    assert fake.state.published() == []


async def test_a_commit_dropped_after_acceptance_is_reconciled_not_reposted(
    herald, fake, live, company
):
    fake.state.add_fault("drop", platform="instagram", endpoint="commit", count=1)
    ids = await asyncio.to_thread(create, herald, company[0], account_id=live[IG],
                                  post_type="feed", caption="dropped once",
                                  media=media(fake, "square.jpg"))
    posts = await drain(herald, ids)
    [post] = posts.values()
    assert post.status == "published", post.error_message
    records = fake.state.published(platform="instagram")
    assert len(records) == 1
    assert post.external_post_id == records[0].external_id


async def test_high_meta_usage_pauses_the_account_before_it_is_throttled(
    herald, fake, live, company
):
    from herald.models import PostSchedule, SocialAccount, utcnow

    fake.state.set_usage(FB, 95)
    first = await asyncio.to_thread(create, herald, company[0], account_id=live[FB],
                                    post_type="text", caption="near the limit")
    posts = await drain(herald, first)
    assert [p.status for p in posts.values()] == ["published"]
    with herald.db.session() as s:
        account = s.get(SocialAccount, live[FB])
    assert account.backoff_until is not None and account.backoff_until > utcnow()
    later = await asyncio.to_thread(create, herald, company[0], account_id=live[FB],
                                    post_type="text", caption="waits")
    with herald.db.session() as s:
        assert s.get(PostSchedule, later[0]).run_at >= account.backoff_until


async def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(predicate):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _phase(herald, post_id: str) -> str | None:
    from sqlalchemy import select

    from herald.models import PublishAttempt

    with herald.db.session() as s:
        return s.scalars(select(PublishAttempt.phase).where(
            PublishAttempt.post_id == post_id).order_by(PublishAttempt.attempt.desc())).first()


def _cancel(herald, company_id: str, post_id: str) -> str:
    with herald.db.session() as s:
        return services.cancel_post(s, herald.context(company_id), post_id).status


async def test_a_post_cancelled_while_held_is_not_published(herald, fake, live, company):
    fake.state.configure(latency=0.4)
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=live[IG],
                                    post_type="feed", caption="cancel me",
                                    media=media(fake, "square.jpg"))
    worker = build_worker(herald, worker_id="w", concurrency=5)
    task = asyncio.create_task(worker.run())
    try:
        await _wait_for(lambda: _posts(herald, [pid])[pid].status == "processing")
        assert await asyncio.to_thread(_cancel, herald, company[0], pid) == "processing"
        await _wait_for(lambda: _posts(herald, [pid])[pid].status == "cancelled")
    finally:
        worker.stop()
        await task
        await herald.aclose()
    assert fake.state.published() == []
    assert _posts(herald, [pid])[pid].error_message == "Cancelled before it was sent."


async def test_a_cancel_after_the_commit_leaves_the_post_published_and_says_so(
    herald, fake, live, company
):
    fake.state.configure(latency=0.6)
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=live[FB],
                                    post_type="text", caption="too late to cancel")
    worker = build_worker(herald, worker_id="w", concurrency=5)
    task = asyncio.create_task(worker.run())
    try:
        await _wait_for(lambda: _phase(herald, pid) == "committing")
        await asyncio.to_thread(_cancel, herald, company[0], pid)
        await _wait_for(lambda: _posts(herald, [pid])[pid].status == "published")
    finally:
        worker.stop()
        await task
        await herald.aclose()
    post = _posts(herald, [pid])[pid]
    assert "stays published" in post.error_message
    assert len(fake.state.published()) == 1


def _lose_mid_commit(herald, post_id: str, ids: dict[str, Any], times: int) -> None:
    """Workers die `times` times right after journaling "committing" for the post."""
    queue = Queue(herald.db.engine, lease_seconds=0.5, rand=lambda: 0.5)
    t = utcnow()
    for i in range(times):
        [claim] = queue.claim(worker_id=f"doomed-{i}", limit=1, now=t)
        assert claim.post_id == post_id
        queue.record_phase(claim, phase="committing", ids=ids)
        t += timedelta(seconds=1)
        assert queue.rescue_expired(now=t) == 1


def _ig_container(fake: FakeServer, caption: str, *, publish: bool) -> str:
    root = f"{fake.graph_url}/v25.0/{IG}"
    headers = {"Authorization": f"Bearer secret-token-{IG}"}
    with httpx.Client(headers=headers) as client:
        container = client.post(f"{root}/media", json={
            "image_url": f"{fake.url}/_fake/files/square.jpg", "caption": caption}
        ).raise_for_status().json()["id"]
        if publish:
            client.post(f"{root}/media_publish", json={"creation_id": container}
                        ).raise_for_status()
    return str(container)


@pytest.mark.parametrize("went_out", [True, False])
async def test_a_post_whose_workers_keep_dying_mid_commit_gets_a_check_not_a_resend(
    herald, fake, live, company, went_out
):
    """At the rescue limit a post that may be out is checked once more, never resent:
    out → published with the platform's id; not out → failed, saying so."""
    caption = f"workers keep dying ({went_out})"
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=live[IG],
                                    post_type="feed", caption=caption,
                                    media=media(fake, "square.jpg"))
    container = await asyncio.to_thread(_ig_container, fake, caption, publish=went_out)
    # Long enough ago that no call of the doomed workers could still land.
    ids = {"container_id": container,
           "committing_at": (utcnow() - timedelta(minutes=2)).isoformat()}
    await asyncio.to_thread(_lose_mid_commit, herald, pid, ids, MAX_RESCUES)
    posts = await drain(herald, [pid])
    records = fake.state.published(platform="instagram")
    if went_out:
        assert posts[pid].status == "published", posts[pid].error_message
        assert [r.external_id for r in records] == [posts[pid].external_post_id]
    else:
        assert posts[pid].status == "failed"
        assert "did not go out" in (posts[pid].error_message or "")
        assert records == []


async def test_a_commit_cut_off_moments_ago_is_not_resent_while_it_may_still_land(
    herald, fake, live, company
):
    """Its worker stopped mid-commit a second ago: "not found" proves nothing yet, so the
    post waits until the call would have timed out, and nothing is sent meanwhile."""
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=live[IG],
                                    post_type="feed", caption="cut off just now",
                                    media=media(fake, "square.jpg"))
    container = await asyncio.to_thread(_ig_container, fake, "cut off just now", publish=False)
    sent_at = utcnow()
    ids = {"container_id": container, "committing_at": sent_at.isoformat()}
    await asyncio.to_thread(_lose_mid_commit, herald, pid, ids, 1)
    await asyncio.sleep(1.1)  # the rescue made it due a second from now
    worker = build_worker(herald, worker_id="e2e", concurrency=5)
    await worker.run(until_idle=True)
    await herald.aclose()
    with herald.db.session() as s:
        entry, post = s.get(PostSchedule, pid), s.get(Post, pid)
        assert (entry.status, post.status) == ("pending", "pending")
        assert entry.run_at >= sent_at + timedelta(seconds=REQUEST_TIMEOUT - 1)
        assert "may still land" in (post.error_message or "")
    assert fake.state.published() == []


@pytest.mark.parametrize("platform", ["instagram", "facebook", "linkedin"])
async def test_a_commit_the_platform_never_received_is_sent_once_more(
    herald, fake, live, company, platform
):
    """The connection died before the platform applied the commit: Herald checks, finds
    nothing, and sends it again: out exactly once."""
    fake.state.add_fault("reset", platform=platform, endpoint="commit", count=1)
    account, fields = {
        "instagram": (live[IG], {"post_type": "feed", "media": media(fake, "square.jpg")}),
        "facebook": (live[FB], {"post_type": "text"}),
        "linkedin": (live[LI], {"post_type": "text"}),
    }[platform]
    ids = await asyncio.to_thread(create, herald, company[0], account_id=account,
                                  caption=f"reset once on {platform}", **fields)
    [post] = (await drain(herald, ids)).values()
    assert post.status == "published", post.error_message
    records = fake.state.published(platform=platform)
    assert [r.external_id for r in records] == [post.external_post_id]
    assert [c.outcome for c in fake.state.commits()
            if c.platform == platform][-2:] == ["fault", "ok"]


@pytest.mark.all_engines
async def test_the_instagram_quota_holds_across_two_workers(herald, fake, live, company):
    """Two workers, four posts, a quota of two left: two go out, two wait for the window
    with their new time visible; none is refused for good."""
    fake.state.add_instagram_account(IG, "secret-token-" + IG, quota_total=2)
    ids: list[str] = []
    for n in range(4):
        ids += await asyncio.to_thread(create, herald, company[0], account_id=live[IG],
                                       post_type="feed", caption=f"quota {n}",
                                       media=media(fake, "square.jpg"))
    workers = [build_worker(herald, worker_id=f"w{n}", concurrency=2) for n in range(2)]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while len(fake.state.published(platform="instagram")) < 2 or any(
                p.status == "processing"
                for p in (await asyncio.to_thread(_posts, herald, ids)).values()):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # room for a third post to (wrongly) go out
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks)
        await herald.aclose()
    assert len(fake.state.published(platform="instagram")) == 2
    posts = await asyncio.to_thread(_posts, herald, ids)
    waiting = [p for p in posts.values() if p.status == "pending"]
    assert len(waiting) == 2 and sum(p.status == "published" for p in posts.values()) == 2
    with herald.db.session() as s:
        for p in waiting:
            entry = s.get(PostSchedule, p.id)
            assert entry.run_at > utcnow() + timedelta(minutes=30)  # the window, not seconds
            assert "publishing limit" in (p.error_message or "")
