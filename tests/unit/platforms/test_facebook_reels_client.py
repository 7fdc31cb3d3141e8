"""Facebook Reels and Stories client against MockTransport handlers shaped like Meta's
Reels Publishing and Page Stories guides: each step, the reels limit, reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from herald.platforms.base import (
    History,
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    TransientError,
)
from herald.platforms.facebook.client import FacebookPublisher
from herald.platforms.facebook.errors import facebook_error
from herald.platforms.facebook.sessions import Polls
from tests.unit.platforms.conftest import TOKEN

V = "/v25.0"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VID = ("https://cdn.test/reel.mp4", "video")
IMG = ("https://cdn.test/story.jpg", "image")
UPLOAD = "https://rupload.test/video-upload/v25.0/777"
COMMITTED_AT = NOW - timedelta(minutes=1)
PUBLISHED = {"status": {"video_status": "ready", "processing_phase": {"status": "complete"},
                        "publishing_phase": {"status": "complete",
                                             "publish_status": "published"}}}
NOT_FINISHED = {"status": {"video_status": "upload_complete",
                           "processing_phase": {"status": "in_progress"},
                           "publishing_phase": {"status": "not_started"}}}


def publisher(api) -> FacebookPublisher:
    return FacebookPublisher(api.client(), base_url="https://graph.test", version="v25.0",
                             now=lambda: NOW, polls=Polls(first=0, cap=0, max_wait=0.5))


def page_job(make_job, **kw):
    return make_job(platform="facebook", external_id="55", **kw)


def reel_routes(api, *, reels: int = 0) -> None:
    api.on("GET", f"{V}/55/video_reels", {"data": [
        {"id": str(i), "created_time": (NOW - timedelta(hours=1, minutes=i)).strftime(
            "%Y-%m-%dT%H:%M:%S+0000")} for i in range(reels)]})
    api.on("POST", f"{V}/55/video_reels", lambda r: {"video_id": "777", "upload_url": UPLOAD}
           if api.body(r)["upload_phase"] == "start" else {"success": True})
    api.on("POST", "/video-upload/v25.0/777", {"success": True})
    api.on("GET", f"{V}/777", lambda r: PUBLISHED if r.url.params.get("fields") == "status"
           else {"id": "777", "permalink_url": "/reel/777/"})


async def test_a_reel_is_started_uploaded_by_url_and_finished_as_published(api, make_job):
    reel_routes(api)
    job, journal = page_job(make_job, post_type="reel", media=[VID], caption="Reel!")
    result = await publisher(api).publish(job)
    assert (result.external_id, result.permalink) == ("777", "https://www.facebook.com/reel/777/")
    start, finish = (api.body(r) for r in api.sent("POST", f"{V}/55/video_reels"))
    assert start == {"upload_phase": "start"}
    assert finish == {"upload_phase": "finish", "video_id": "777",
                      "video_state": "PUBLISHED", "description": "Reel!"}
    [upload] = api.sent("POST", "/video-upload/v25.0/777")
    assert upload.headers["authorization"] == f"OAuth {TOKEN}"
    assert upload.headers["file_url"] == VID[0]
    assert journal.phases == ["prepared", "committing", "committed"]
    assert journal.entries[0][1] == {"video_id": "777", "session": "video_reels"}
    assert api.sent("POST", f"{V}/55/videos") == []  # never /videos (Postiz's drafts)


async def test_a_retry_finishes_the_journaled_session_without_a_new_upload(api, make_job):
    reel_routes(api)
    job, _ = page_job(make_job, post_type="reel", media=[VID], history=History(
        ids={"video_id": "777", "session": "video_reels"}))
    assert (await publisher(api).publish(job)).external_id == "777"
    assert [api.body(r)["upload_phase"] for r in api.sent("POST", f"{V}/55/video_reels")] == [
        "finish"]
    assert api.sent("POST", "/video-upload/v25.0/777") == []


async def test_a_page_with_thirty_reels_in_a_day_waits(api, make_job):
    reel_routes(api, reels=30)
    job, journal = page_job(make_job, post_type="reel", media=[VID])
    with pytest.raises(TransientError) as caught:
        await publisher(api).publish(job)
    assert caught.value.code == "reels_limit"
    # The oldest of the 30 went out 1 h 29 min ago: a slot frees in 22 h 31 min.
    assert caught.value.retry_after == pytest.approx((22 * 60 + 31) * 60)
    assert "30 reels" in caught.value.message
    assert api.sent("POST", f"{V}/55/video_reels") == [] and journal.phases == []


async def test_a_reel_list_that_cannot_be_read_does_not_stop_the_reel(api, make_job):
    reel_routes(api)
    api.on("GET", f"{V}/55/video_reels", api.graph_error(100, message="(#100) Unsupported"))
    job, _ = page_job(make_job, post_type="reel", media=[VID])
    assert (await publisher(api).publish(job)).external_id == "777"


async def test_metas_refusal_at_the_limit_is_a_retry_later(api, make_job):
    reel_routes(api)
    api.on("POST", f"{V}/55/video_reels", lambda r: {"video_id": "777", "upload_url": UPLOAD}
           if api.body(r)["upload_phase"] == "start" else api.graph_error(
               9, message="(#9) This Page has reached its limit of 30 reels"))
    job, _ = page_job(make_job, post_type="reel", media=[VID])
    with pytest.raises(TransientError) as caught:
        await publisher(api).publish(job)
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert caught.value.retry_after == 3600 and "30 in 24 hours" in caught.value.message


@pytest.mark.parametrize(("reply", "kind", "words"), [
    (httpx.Response(401, json={"debug_info": {"retriable": False, "type": "OAuthException",
                                              "message": "Invalid OAuth access token."}}),
     NeedsReauthError, "Reconnect"),
    (httpx.Response(400, json={"debug_info": {"retriable": True, "type": "ProcessingFailed",
                                              "message": "Try again"}}),
     TransientError, "sent again shortly"),
    (httpx.Response(400, json={"debug_info": {"retriable": False, "type": "ProcessingFailed",
                                              "message": "Bad file"}}),
     PermanentError, "Check that its URL is public"),
    (httpx.Response(400, json={"error": {"code": 390, "error_subcode": 1363030,
                                         "message": "Video Upload Time Out"}}),
     TransientError, "sent again shortly"),
])
async def test_upload_failures_are_mapped(api, make_job, reply, kind, words):
    reel_routes(api)
    api.on("POST", "/video-upload/v25.0/777", reply)
    job, journal = page_job(make_job, post_type="reel", media=[VID])
    with pytest.raises(kind) as caught:
        await publisher(api).publish(job)
    assert type(caught.value) is kind and words in caught.value.message
    assert TOKEN not in caught.value.message and journal.phases == []


async def test_a_reel_whose_processing_failed_fails_with_metas_reason(api, make_job):
    reel_routes(api)
    api.on("GET", f"{V}/777", {"status": {"video_status": "error", "processing_phase": {
        "status": "error", "errors": [{"code": 1363008, "message": "Video too short"}]}}})
    job, _ = page_job(make_job, post_type="reel", media=[VID])
    with pytest.raises(PermanentError) as caught:
        await publisher(api).publish(job)
    assert "(Video too short)" in caught.value.message


async def test_a_story_photo_is_uploaded_unpublished_then_published_as_a_story(api, make_job):
    api.on("POST", f"{V}/55/photos", {"id": "p1"})
    api.on("POST", f"{V}/55/photo_stories", {"success": True, "post_id": "55_8"})
    api.on("GET", f"{V}/55_8", {"id": "55_8", "permalink_url": "https://fb.test/55_8"})
    job, journal = page_job(make_job, post_type="story", media=[IMG], caption="")
    result = await publisher(api).publish(job)
    assert result.external_id == "55_8"
    assert api.body(api.sent("POST", f"{V}/55/photos")[0]) == {"url": IMG[0],
                                                               "published": False}
    assert api.body(api.sent("POST", f"{V}/55/photo_stories")[0]) == {"photo_id": "p1"}
    assert journal.phases == ["prepared", "committing", "committed"]


async def test_a_video_story_finishes_its_session_and_is_known_by_its_post(api, make_job):
    api.on("POST", f"{V}/55/video_stories", lambda r: {"video_id": "777", "upload_url": UPLOAD}
           if api.body(r)["upload_phase"] == "start" else {"success": True, "post_id": "55_7"})
    api.on("POST", "/video-upload/v25.0/777", {"success": True})
    api.on("GET", f"{V}/777", PUBLISHED)
    api.on("GET", f"{V}/55_7", {"id": "55_7", "permalink_url": "https://fb.test/55_7"})
    job, _ = page_job(make_job, post_type="story", media=[VID], caption="")
    assert (await publisher(api).publish(job)).external_id == "55_7"
    finish = api.body(api.sent("POST", f"{V}/55/video_stories")[1])
    assert finish == {"upload_phase": "finish", "video_id": "777"}


# --- reconciliation ------------------------------------------------------------------------


def _reel_history() -> History:
    return History(ids={"video_id": "777", "session": "video_reels",
                        "endpoint": "video_reels"}, committing_at=COMMITTED_AT)


async def test_a_reel_whose_publishing_began_is_out(api, make_job):
    reel_routes(api)
    job, journal = page_job(make_job, post_type="reel", media=[VID], history=_reel_history())
    result = await publisher(api).reconcile(job)
    assert result is not None and result.external_id == "777"
    assert journal.phases == ["committed"]


async def test_a_reel_whose_finish_never_took_is_not_out(api, make_job):
    api.on("GET", f"{V}/777", NOT_FINISHED)
    job, _ = page_job(make_job, post_type="reel", media=[VID], history=_reel_history())
    assert await publisher(api).reconcile(job) is None


async def test_a_reel_that_cannot_be_read_stays_unsettled(api, make_job):
    api.on("GET", f"{V}/777", api.graph_error(2, status=503, is_transient=True))
    job, _ = page_job(make_job, post_type="reel", media=[VID], history=_reel_history())
    with pytest.raises(OutcomeUnknownError):
        await publisher(api).reconcile(job)


def _story_history() -> History:
    return History(ids={"photo_ids": ["p1"], "endpoint": "photo_stories"},
                   committing_at=COMMITTED_AT)


async def test_a_story_listed_by_its_photo_is_out(api, make_job):
    api.on("GET", f"{V}/55/stories", {"data": [
        {"post_id": "55_1", "media_id": "p0", "status": "PUBLISHED"},
        {"post_id": "55_8", "media_id": "p1", "status": "PUBLISHED"}]})
    api.on("GET", f"{V}/55_8", {"id": "55_8", "permalink_url": "https://fb.test/55_8"})
    job, _ = page_job(make_job, post_type="story", media=[IMG], history=_story_history())
    result = await publisher(api).reconcile(job)
    assert result is not None and result.external_id == "55_8"


async def test_a_story_missing_from_a_list_of_others_is_not_out(api, make_job):
    api.on("GET", f"{V}/55/stories", {"data": [{"post_id": "55_1", "media_id": "p0"}]})
    job, _ = page_job(make_job, post_type="story", media=[IMG], history=_story_history())
    assert await publisher(api).reconcile(job) is None


async def test_an_empty_story_list_proves_nothing(api, make_job):
    """Meta lists stories only with the Page's story archive on."""
    api.on("GET", f"{V}/55/stories", {"data": []})
    job, _ = page_job(make_job, post_type="story", media=[IMG], history=_story_history())
    with pytest.raises(OutcomeUnknownError) as caught:
        await publisher(api).reconcile(job)
    assert "story archive" in caught.value.message


def test_code_9_alone_is_the_reels_limit_but_2207042_stays_instagrams_quota():
    limit = facebook_error({"code": 9, "message": "(#9) limit"}, step="commit")
    assert type(limit) is TransientError and limit.retry_after == 3600
    quota = facebook_error({"code": 9, "error_subcode": 2207042}, step="commit")
    assert quota.code == "9/2207042"
