"""Facebook Pages client against MockTransport handlers shaped like the Graph API reference."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from herald.platforms.base import (
    History,
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    Publisher,
    RateLimitedError,
    TransientError,
)
from herald.platforms.facebook.client import FacebookPublisher

V = "/v25.0"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IMG1, IMG2 = ("https://cdn.test/1.jpg", "image"), ("https://cdn.test/2.jpg", "image")
VID = ("https://cdn.test/v.mp4", "video")


def publisher(api) -> FacebookPublisher:
    return FacebookPublisher(api.client(), base_url="https://graph.test", version="v25.0",
                             now=lambda: NOW + timedelta(minutes=1))


#: When an earlier attempt began its commit.
COMMITTED_AT = datetime(2026, 3, 1, 12, 0, 25, tzinfo=UTC)


def page_job(make_job, **kw):
    return make_job(platform="facebook", external_id="55", **kw)


def permalink(api, post_id="55_9"):
    api.on("GET", f"{V}/{post_id}",
           {"permalink_url": f"https://www.facebook.com/{post_id}", "id": post_id})


def test_is_a_publisher(api):
    p: Publisher = publisher(api)
    assert p.platform == "facebook"


async def test_text_post_with_a_link(api, make_job):
    api.on("POST", f"{V}/55/feed", {"id": "55_9"})
    permalink(api)
    job, journal = page_job(make_job, post_type="text", options={"link": "https://x.test"})
    result = await publisher(api).publish(job)
    assert result.external_id == "55_9"
    assert result.permalink == "https://www.facebook.com/55_9"
    assert api.body(api.sent("POST", f"{V}/55/feed")[0]) == {"message": "Hi #tag",
                                                             "link": "https://x.test"}
    assert journal.phases == ["committing", "committed"]
    assert journal.entries[1][1] == {"external_id": "55_9"}


async def test_one_photo_returns_the_feed_post_id(api, make_job):
    api.on("POST", f"{V}/55/photos", {"id": "777", "post_id": "55_9"})
    permalink(api)
    job, _ = page_job(make_job, media=[IMG1], alt="A dog")
    result = await publisher(api).publish(job)
    assert result.external_id == "55_9"
    assert api.body(api.sent("POST", f"{V}/55/photos")[0]) == {
        "url": IMG1[0], "caption": "Hi #tag", "alt_text_custom": "A dog"}


async def test_several_photos_are_uploaded_unpublished_then_attached(api, make_job):
    api.on("POST", f"{V}/55/photos", {"id": "p1"}, {"id": "p2"})
    api.on("POST", f"{V}/55/feed", {"id": "55_9"})
    permalink(api)
    job, journal = page_job(make_job, post_type="carousel", media=[IMG1, IMG2])
    result = await publisher(api).publish(job)
    photos = [api.body(r) for r in api.sent("POST", f"{V}/55/photos")]
    assert photos == [{"url": IMG1[0], "published": False}, {"url": IMG2[0], "published": False}]
    assert api.body(api.sent("POST", f"{V}/55/feed")[0]) == {
        "message": "Hi #tag", "attached_media": [{"media_fbid": "p1"}, {"media_fbid": "p2"}]}
    assert journal.entries[0] == ("prepared", {"photo_ids": ["p1", "p2"]})
    assert result.extra["photo_ids"] == ["p1", "p2"]


async def test_unpublished_photos_of_an_earlier_attempt_are_reused(api, make_job):
    api.on("POST", f"{V}/55/feed", {"id": "55_9"})
    permalink(api)
    job, _ = page_job(make_job, media=[IMG1, IMG2],
                      history=History(ids={"photo_ids": ["p1", "p2"]}))
    await publisher(api).publish(job)
    assert api.sent("POST", f"{V}/55/photos") == []


async def test_video_uses_file_url_and_makes_a_relative_permalink_absolute(api, make_job):
    api.on("POST", f"{V}/55/videos", {"id": "v1"})
    api.on("GET", f"{V}/v1", {"permalink_url": "/55/videos/v1/"})
    job, journal = page_job(make_job, post_type="video", media=[VID], options={"title": "T"})
    result = await publisher(api).publish(job)
    assert api.body(api.sent("POST", f"{V}/55/videos")[0]) == {
        "file_url": VID[0], "description": "Hi #tag", "title": "T"}
    assert (result.external_id, result.permalink) == ("v1",
                                                      "https://www.facebook.com/55/videos/v1/")
    assert journal.entries[0][1]["endpoint"] == "videos"


@pytest.mark.parametrize(("post_type", "media", "caption", "code"), [
    ("feed_story", [IMG1], "x", "unsupported_post_type"),
    ("reel", [IMG1], "x", "media_count"),
    ("feed", [IMG1, VID], "x", "media_mix"),
    ("feed", [("https://cdn.test/a.pdf", "document")], "x", "media_type"),
    ("text", [], "", "empty_post"),
])
async def test_shapes_a_page_cannot_take_are_refused(api, make_job, post_type, media, caption,
                                                    code):
    job, _ = page_job(make_job, post_type=post_type, media=media, caption=caption)
    with pytest.raises(PermanentError) as caught:
        await publisher(api).publish(job)
    assert caught.value.code == code and api.requests == []


@pytest.mark.parametrize(("reply", "cls", "words"), [
    ({"code": 200, "message": "(#200) Requires pages_manage_posts permission"},
     PermanentError, "grant pages_manage_posts"),
    ({"code": 190, "error_subcode": 492, "message": "no role"}, NeedsReauthError, "role"),
    ({"code": 368, "message": "blocked"}, PermanentError, "policies"),
    ({"code": 506, "message": "Duplicate status message"}, PermanentError, "duplicate"),
    ({"code": 32, "message": "Page request limit reached"}, RateLimitedError, "Page"),
    ({"code": 100, "error_subcode": 1404078, "message": "x"}, PermanentError,
     "Page Publishing Authorization"),
])
async def test_page_errors_map_to_the_hierarchy(api, make_job, reply, cls, words):
    api.on("POST", f"{V}/55/feed", httpx.Response(400, json={"error": reply}))
    job, _ = page_job(make_job, post_type="text")
    with pytest.raises(cls) as caught:
        await publisher(api).publish(job)
    assert words in caught.value.message
    assert caught.value.message.startswith("Facebook ")


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("slow"), httpx.Response(503)])
async def test_commit_failure_is_outcome_unknown(api, make_job, failure):
    api.on("POST", f"{V}/55/photos", failure)
    job, journal = page_job(make_job, media=[IMG1])
    with pytest.raises(OutcomeUnknownError):
        await publisher(api).publish(job)
    assert journal.phases == ["committing"]


async def test_unpublished_photo_timeout_is_only_transient(api, make_job):
    api.on("POST", f"{V}/55/photos", httpx.ReadTimeout("slow"))
    job, journal = page_job(make_job, media=[IMG1, IMG2])
    with pytest.raises(TransientError) as caught:
        await publisher(api).publish(job)
    assert type(caught.value) is TransientError and journal.phases == []


async def test_connect_error_on_the_commit_is_safe_to_retry(api, make_job):
    api.on("POST", f"{V}/55/feed", httpx.ConnectError("refused"))
    job, _ = page_job(make_job, post_type="text")
    with pytest.raises(TransientError) as caught:
        await publisher(api).publish(job)
    assert type(caught.value) is TransientError


async def test_missing_permalink_does_not_fail_the_post(api, make_job):
    api.on("POST", f"{V}/55/feed", {"id": "55_9"})
    api.on("GET", f"{V}/55_9", httpx.Response(500))
    job, _ = page_job(make_job, post_type="text")
    assert (await publisher(api).publish(job)).permalink is None


def posts(*items):
    return {"data": [{"id": i, "message": m, "created_time": t} for i, m, t in items]}


async def test_reconcile_finds_the_post_by_message_and_time(api, make_job):
    api.on("GET", f"{V}/55/published_posts", posts(
        ("55_new", "Other", "2026-03-01T12:00:50+0000"),
        ("55_9", "Hi #tag", "2026-03-01T12:00:30+0000"),
        ("55_old", "Hi #tag", "2026-02-01T12:00:30+0000")))
    permalink(api)
    job, journal = page_job(make_job, history=History(committing_at=COMMITTED_AT))
    result = await publisher(api).reconcile(job)
    assert result is not None and result.external_id == "55_9"
    assert result.extra["reconciled"] is True
    assert journal.entries == [("committed", {"external_id": "55_9"})]


async def test_reconcile_none_only_when_the_listing_covers_the_window(api, make_job):
    job, _ = page_job(make_job)
    assert await publisher(api).reconcile(job) is None  # never reached the commit
    job, _ = page_job(make_job, history=History(committing_at=COMMITTED_AT))
    api.on("GET", f"{V}/55/published_posts", posts(("55_1", "x", "2026-02-01T00:00:00+0000")))
    assert await publisher(api).reconcile(job) is None
    # A short page is the whole listing; full pages are followed back (up to a cap).
    recent = {"data": [{"id": f"55_{n}", "message": "x",
                        "created_time": "2026-03-01T12:00:59+0000"} for n in range(100)],
              "paging": {"cursors": {"after": "QQ"}, "next": "https://graph.test/next"}}
    api.on("GET", f"{V}/55/published_posts", recent)
    with pytest.raises(OutcomeUnknownError):
        await publisher(api).reconcile(job)


async def test_reconcile_of_a_video_looks_at_the_page_videos(api, make_job):
    api.on("GET", f"{V}/55/videos", {"data": [
        {"id": "v1", "description": "Hi #tag", "created_time": "2026-03-01T12:00:30+0000"}]})
    api.on("GET", f"{V}/v1", {"permalink_url": "/55/videos/v1/"})
    job, _ = page_job(make_job, media=[VID], history=History(
        ids={"endpoint": "videos"}, committing_at=COMMITTED_AT))
    result = await publisher(api).reconcile(job)
    assert result is not None and result.external_id == "v1"


async def test_usage_is_reported_and_tokens_never_logged(api, make_job, caplog):
    caplog.set_level(logging.DEBUG)
    api.on("POST", f"{V}/55/feed", httpx.Response(
        200, json={"id": "55_9"},
        headers={"x-app-usage": '{"call_count":92,"total_cputime":10,"total_time":12}'}))
    permalink(api)
    job, _ = page_job(make_job, post_type="text")
    result = await publisher(api).publish(job)
    assert result.extra["usage"]["max_percent"] == 92
    assert job.account.access_token not in caplog.text
    assert all(job.account.access_token not in str(r.url) for r in api.requests)


async def test_a_missing_permission_meta_does_not_name_is_facebooks(api, make_job):
    api.on("POST", f"{V}/55/feed", httpx.Response(403, json={"error": {"code": 10,
                                                                       "message": "no"}}))
    job, _ = page_job(make_job, post_type="text")
    with pytest.raises(PermanentError) as caught:
        await publisher(api).publish(job)
    assert "grant pages_manage_posts, pages_read_engagement" in caught.value.message
