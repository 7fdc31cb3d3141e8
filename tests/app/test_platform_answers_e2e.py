"""Answers shaped like the platforms' real ones, through the real worker over real HTTP to
the fake: a LinkedIn duplicate on a first attempt, a Meta video upload it says to retry."""

from __future__ import annotations

import asyncio

import pytest

from herald.app import build_worker
from tests.app import test_publish_e2e as e2e
from tests.app.test_publish_e2e import FB, LI, _posts, create, drain, media

# The end-to-end module's fixtures: Herald publishing to a live fake, accounts on both sides.
fake, herald, live = e2e.fake, e2e.herald, e2e.live


async def test_a_linkedin_duplicate_on_a_first_attempt_fails_as_a_refusal(
        herald, fake, live, company):
    ids = [pid for _ in range(2) for pid in await asyncio.to_thread(
        create, herald, company[0], account_id=live[LI], post_type="text",
        caption="Same words twice")]
    posts = await drain(herald, ids)
    [published] = [p for p in posts.values() if p.status == "published"]
    [refused] = [p for p in posts.values() if p is not published]
    # Not "published" under the other post's urn: LinkedIn published nothing this time.
    assert refused.status == "failed"
    assert refused.external_post_id is None
    assert refused.error_message.startswith(
        f"LinkedIn refused this post as a duplicate of an earlier post "
        f"({published.external_post_id}) and published nothing.")
    assert len(fake.state.published(platform="linkedin")) == 1


@pytest.mark.parametrize("subcode", [1363030, 1363019, 6000])
async def test_a_facebook_video_upload_meta_says_to_retry_is_retried_not_failed(
        herald, fake, live, company, subcode):
    fake.state.add_fault("error", platform="facebook", endpoint="commit", code=390,
                         subcode=subcode, count=1)
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=live[FB],
                                    post_type="video", caption="FB video, second try",
                                    media=media(fake, "clip.mp4"))
    worker = build_worker(herald, worker_id="e2e", concurrency=2)
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(300):
            post = (await asyncio.to_thread(_posts, herald, [pid]))[pid]
            if post.status != "processing" and post.attempts >= 1:
                break
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await task
        await herald.aclose()
    # Waiting for its next attempt (Meta asks for a retry), never failed for good.
    assert post.status == "pending", post.error_message
    assert f"(code 390/{subcode})" in post.error_message
    assert fake.state.published(platform="facebook") == []
