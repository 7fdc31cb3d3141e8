"""First comments end to end: the real worker and clients over real HTTP to the fake.

The comment is a second journaled step: it never un-publishes the post, a failed one is
retried alone (the post stays published), and a retry reconciles first, so the platform
never carries two.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from herald import services
from herald.app import build_worker
from herald.errors import Conflict
from herald.models import Event, PublishAttempt
from herald.platforms.graph.fake_comments import comments_on
from herald.platforms.linkedin.fake.comments import comments_on as li_comments_on
from herald.schemas import PostCreate
from tests.app import test_publish_e2e as e2e
from tests.app.test_publish_e2e import FB, IG, LI, LI_ORG, media

fake, herald, live = e2e.fake, e2e.herald, e2e.live


@pytest.fixture
async def worker(herald) -> AsyncIterator[None]:
    """One worker publishing for the whole test (retries included)."""
    running = build_worker(herald, worker_id="e2e", concurrency=10)
    task = asyncio.create_task(running.run())
    yield
    running.stop()
    await task
    await herald.aclose()


def create(herald, company_id: str, **fields: Any) -> list[str]:
    with herald.db.session() as session:
        posts = services.create_posts(session, herald.context(company_id),
                                      PostCreate(run_at="now", **fields))
        return [p.id for p in posts]


def detail(herald, company_id: str, post_id: str):
    with herald.db.session() as session:
        return services.post_detail_out(session, herald.context(company_id), post_id)


async def settled(herald, company_id: str, post_id: str, *statuses: str):
    """The post's detail once its first comment is one of `statuses`."""
    for _ in range(400):
        found = await asyncio.to_thread(detail, herald, company_id, post_id)
        state = found.first_comment_state
        if found.status not in ("pending", "processing") and state is not None \
                and state.status in statuses:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError((found.status, found.error_message, state))


def describe_event(herald, kind: str, post_id: str) -> dict[str, Any]:
    from herald.events.payloads import describe

    with herald.db.session() as s:
        found = describe(s, kind, post_id)
    assert found is not None
    return found[1]


def phases(herald, post_id: str) -> list[tuple[str, str]]:
    with herald.db.session() as s:
        return [(a.phase, a.outcome) for a in s.query(PublishAttempt)
                .filter_by(post_id=post_id).order_by(PublishAttempt.attempt)]


@pytest.mark.all_engines
async def test_a_first_comment_follows_the_post_on_each_platform(herald, fake, live, company,
                                                                 worker):
    c = company[0]
    plan = [
        (live[IG], dict(post_type="feed", caption="IG with a comment",
                        media=media(fake, "square.jpg"))),
        (live[FB], dict(post_type="text", caption="FB with a comment")),
        (live[LI_ORG], dict(post_type="text", caption="LI org with a comment")),
    ]
    ids = [pid for account, fields in plan for pid in await asyncio.to_thread(
        create, herald, c, account_id=account, first_comment="Link in the comments #herald",
        **fields)]
    done = [await settled(herald, c, pid, "published") for pid in ids]
    for post in done:
        assert post.status == "published"
        assert post.first_comment == "Link in the comments #herald"
        assert post.first_comment_state.comment_id
        # The attempt timeline shows both steps: the post, then its comment.
        assert post.attempt_log[-1].phase == "commented"
        assert post.attempt_log[-1].platform_ids["first_comment_id"] == \
            post.first_comment_state.comment_id
    ig, fb, li = done
    assert [c["message"] for c in comments_on(fake.state, ig.external_post_id)] == [
        "Link in the comments #herald"]
    assert [c["message"] for c in comments_on(fake.state, fb.external_post_id)] == [
        "Link in the comments #herald"]
    assert [c["message"]["text"] for c in li_comments_on(fake.state, li.external_post_id)] \
        == ["Link in the comments #herald"]


@pytest.mark.all_engines
async def test_a_failed_comment_leaves_the_post_published_and_is_retried_alone(
        herald, fake, live, company, worker):
    c = company[0]
    fake.state.add_fault("error", platform="facebook", endpoint="comment", count=1)
    [pid] = await asyncio.to_thread(create, herald, c, account_id=live[FB], post_type="text",
                                    caption="The post goes out", first_comment="The comment")
    failed = await settled(herald, c, pid, "failed")
    assert failed.status == "published" and failed.external_post_id
    assert "during the publishing call" in failed.first_comment_state.error
    assert comments_on(fake.state, failed.external_post_id) == []
    published_at = failed.published_at
    with herald.unit_of_work() as session:
        again = services.retry_first_comment(session, herald.context(c), pid)
    assert again.status == "published"  # never back to pending: the post is out
    done = await settled(herald, c, pid, "published")
    assert done.status == "published" and done.published_at == published_at
    assert done.external_post_id == failed.external_post_id
    assert [x["message"] for x in comments_on(fake.state, done.external_post_id)] == [
        "The comment"]
    assert len(fake.state.published(platform="facebook")) == 1
    # Both steps on the timeline: the post with its failed comment, then the comment alone.
    assert phases(herald, pid) == [("committed", "published"), ("commented", "published")]
    # One post.published (the retry left the post alone), then the comment's own events.
    with herald.db.session() as s:
        kinds = [e.type for e in s.query(Event).filter_by(subject_id=pid)
                 .order_by(Event.created_at)]
    assert sorted(kinds) == ["comment.failed", "comment.published", "post.published"]
    assert kinds.index("comment.failed") < kinds.index("comment.published")
    payload = describe_event(herald, "comment.failed", pid)
    assert payload["first_comment_state"]["status"] == "published"  # as it stands now
    with herald.unit_of_work() as session, pytest.raises(Conflict, match="published"):
        services.retry_first_comment(session, herald.context(c), pid)


async def test_a_comment_whose_answer_was_lost_is_found_not_posted_twice(
        herald, fake, live, company, worker):
    c = company[0]
    fake.state.add_fault("drop", platform="instagram", endpoint="comment", count=1)
    [pid] = await asyncio.to_thread(create, herald, c, account_id=live[IG], post_type="feed",
                                    caption="IG, answer lost", first_comment="Only once",
                                    media=media(fake, "square.jpg"))
    done = await settled(herald, c, pid, "published")
    found = comments_on(fake.state, done.external_post_id)
    assert [x["message"] for x in found] == ["Only once"]
    assert done.first_comment_state.comment_id == found[0]["id"]


async def test_a_first_comment_is_refused_when_scheduled_where_it_cannot_go(
        herald, fake, live, company):
    from herald.errors import Invalid

    c = company[0]
    with pytest.raises(Invalid, match="as an organization; this account is a member"):
        await asyncio.to_thread(create, herald, c, account_id=live[LI], post_type="text",
                                caption="member", first_comment="no")
    with pytest.raises(Invalid, match="Instagram stories take no comments"):
        await asyncio.to_thread(create, herald, c, account_id=live[IG], post_type="story",
                                media=media(fake, "story.jpg"), first_comment="no")
    await herald.aclose()


def _die_while_commenting(herald, post_id: str, ids: dict[str, Any]) -> None:
    """A worker published the post, journaled "commenting", and died."""
    from datetime import timedelta

    from herald.models import utcnow
    from herald.queue import Queue

    queue = Queue(herald.db.engine, lease_seconds=0.5, rand=lambda: 0.5)
    t = utcnow()
    [claim] = queue.claim(worker_id="doomed", limit=1, now=t)
    assert claim.post_id == post_id
    queue.record_phase(claim, phase="commenting", ids=ids)
    assert queue.rescue_expired(now=t + timedelta(seconds=1)) == 1


@pytest.mark.parametrize("went_out", [True, False])
async def test_a_worker_that_died_while_commenting_is_followed_without_a_second_post(
        herald, fake, live, company, went_out):
    import httpx

    c = company[0]
    [pid] = await asyncio.to_thread(create, herald, c, account_id=live[FB],
                                    post_type="text", caption=f"Died commenting {went_out}",
                                    first_comment="Once")
    root = f"{fake.graph_url}/v25.0"
    with httpx.Client(headers={"Authorization": f"Bearer secret-token-{FB}"}) as client:
        post_id = client.post(f"{root}/{FB}/feed", json={
            "message": f"Died commenting {went_out}"}).raise_for_status().json()["id"]
        if went_out:
            client.post(f"{root}/{post_id}/comments",
                        json={"message": "Once"}).raise_for_status()
    await asyncio.to_thread(_die_while_commenting, herald, pid, {
        "external_id": post_id, "permalink": None, "first_comment_at": "2026-12-04T12:00:00"})
    posts = await e2e.drain(herald, [pid])
    post = posts[pid]
    assert post.status == "published" and post.external_post_id == post_id
    assert len(fake.state.published(platform="facebook")) == 1  # never posted again
    assert [x["message"] for x in comments_on(fake.state, post_id)] == ["Once"]
