"""Instagram client against MockTransport handlers shaped like the Graph API reference."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from herald.platforms.base import (
    History,
    OutcomeUnknownError,
    PermanentError,
    Publisher,
    RateLimitedError,
    TransientError,
)
from herald.platforms.instagram.client import InstagramPublisher

V = "/v25.0"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IMG, VID = ("https://cdn.test/a.jpg", "image"), ("https://cdn.test/v.mp4", "video")


def publisher(api, **knobs) -> InstagramPublisher:
    settings = {"poll_interval": 0.001, "poll_backoff": 2.0, "max_poll_interval": 0.002,
                "max_wait": 0.5, **knobs}
    return InstagramPublisher(api.client(), base_url="https://graph.test", version="v25.0",
                              now=lambda: NOW + timedelta(minutes=1), **settings)


def quota(usage=3, total=50):
    return {"data": [{"quota_usage": usage,
                      "config": {"quota_total": total, "quota_duration": 86400}}]}


def routes(api, *, container="C1", statuses=("FINISHED",), usage=3):
    api.on("GET", f"{V}/1784/content_publishing_limit", quota(usage))
    api.on("POST", f"{V}/1784/media", {"id": container})
    api.on("GET", f"{V}/{container}", *[{"status_code": s, "id": container} for s in statuses])
    api.on("POST", f"{V}/1784/media_publish", {"id": "M1"})
    api.on("GET", f"{V}/M1", {"permalink": "https://www.instagram.com/p/abc/", "id": "M1"})


def test_is_a_publisher(api):
    p: Publisher = publisher(api)
    assert p.platform == "instagram"


async def test_a_fresh_image_container_is_published_without_a_status_read(api, make_job):
    """Image containers are ready at once: the status read would be one more call per post."""
    routes(api)
    job, _ = make_job(media=[IMG])
    assert (await publisher(api).publish(job)).external_id == "M1"
    assert api.sent("GET", f"{V}/C1") == []


async def test_one_quota_reading_serves_an_accounts_next_posts(api, make_job):
    routes(api, usage=48)
    ig = publisher(api)
    for _ in range(2):
        job, _ = make_job(media=[IMG])
        await ig.publish(job)
    assert len(api.sent("GET", f"{V}/1784/content_publishing_limit")) == 1
    # The reading counted both posts: 50 of 50 now, so the next post reads it afresh
    # (and Instagram's own count, 48 here, is what decides).
    job, _ = make_job(media=[IMG])
    await ig.publish(job)
    assert len(api.sent("GET", f"{V}/1784/content_publishing_limit")) == 2


async def test_posts_of_one_account_starting_together_share_one_quota_read(api, make_job):
    """A burst starts hundreds of an account's posts at once: one read serves them all."""
    routes(api)

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)  # every post is waiting on its calls at once
        return api.handle(request)

    ig = InstagramPublisher(httpx.AsyncClient(transport=httpx.MockTransport(slow)),
                            base_url="https://graph.test", version="v25.0",
                            now=lambda: NOW + timedelta(minutes=1))
    jobs = [make_job(media=[IMG])[0] for _ in range(5)]
    results = await asyncio.gather(*(ig.publish(job) for job in jobs))
    assert [r.external_id for r in results] == ["M1"] * 5
    assert len(api.sent("GET", f"{V}/1784/content_publishing_limit")) == 1
    assert all(r.extra["quota"]["total"] == 50 for r in results)


async def test_a_failed_shared_quota_read_is_retried_by_each_waiting_post(api, make_job):
    routes(api)
    api.on("GET", f"{V}/1784/content_publishing_limit",
           api.graph_error(10, message="Permission denied"), quota())

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return api.handle(request)

    ig = InstagramPublisher(httpx.AsyncClient(transport=httpx.MockTransport(slow)),
                            base_url="https://graph.test", version="v25.0",
                            now=lambda: NOW + timedelta(minutes=1))
    jobs = [make_job(media=[IMG])[0] for _ in range(3)]
    results = await asyncio.gather(*(ig.publish(job) for job in jobs),
                                   return_exceptions=True)
    # The first reader gets its refusal; the others read again (one read, then cached).
    assert isinstance(results[0], PermanentError)
    assert [r.external_id for r in results[1:]] == ["M1", "M1"]  # type: ignore[union-attr]
    assert len(api.sent("GET", f"{V}/1784/content_publishing_limit")) == 2


async def test_feed_image_goes_through_container_poll_publish_permalink(api, make_job):
    routes(api)
    job, journal = make_job(media=[IMG], alt="A cat")
    result = await publisher(api).publish(job)
    assert (result.external_id, result.permalink) == ("M1", "https://www.instagram.com/p/abc/")
    (create,) = api.sent("POST", f"{V}/1784/media")
    assert api.body(create) == {"image_url": IMG[0], "caption": "Hi #tag", "alt_text": "A cat"}
    assert api.body(api.sent("POST", f"{V}/1784/media_publish")[0]) == {"creation_id": "C1"}
    assert journal.phases == ["prepared", "committing", "committed"]
    assert journal.entries[0][1]["container_id"] == "C1"
    assert journal.entries[2][1]["external_id"] == "M1"
    assert result.extra["container_id"] == "C1"
    assert result.extra["quota"] == {"usage": 3, "total": 50, "window_seconds": 86400}
    assert "max_percent" in result.extra["usage"]


async def test_single_feed_video_is_published_as_a_reel(api, make_job):
    routes(api)
    job, _ = make_job(media=[VID])
    await publisher(api).publish(job)
    body = api.body(api.sent("POST", f"{V}/1784/media")[0])
    assert body == {"media_type": "REELS", "video_url": VID[0], "share_to_feed": True,
                    "caption": "Hi #tag"}


async def test_reel_options_pass_through(api, make_job):
    routes(api)
    job, _ = make_job(post_type="reel", media=[VID],
                      options={"share_to_feed": False, "thumb_offset": 1500})
    await publisher(api).publish(job)
    body = api.body(api.sent("POST", f"{V}/1784/media")[0])
    assert body["share_to_feed"] is False and body["thumb_offset"] == 1500


@pytest.mark.parametrize(("item", "key"), [(IMG, "image_url"), (VID, "video_url")])
async def test_story_has_no_caption(api, make_job, item, key):
    routes(api)
    job, _ = make_job(post_type="story", media=[item])
    await publisher(api).publish(job)
    assert api.body(api.sent("POST", f"{V}/1784/media")[0]) == {"media_type": "STORIES",
                                                               key: item[0]}


async def test_carousel_children_then_parent_with_the_caption_only_there(api, make_job):
    api.on("GET", f"{V}/1784/content_publishing_limit", quota())
    api.on("POST", f"{V}/1784/media", {"id": "K1"}, {"id": "K2"}, {"id": "P1"})
    api.on("GET", f"{V}/K2", {"status_code": "IN_PROGRESS"}, {"status_code": "FINISHED"})
    api.on("GET", f"{V}/P1", {"status_code": "FINISHED"})
    api.on("POST", f"{V}/1784/media_publish", {"id": "M1"})
    api.on("GET", f"{V}/M1", {"permalink": "https://www.instagram.com/p/c/"})
    job, journal = make_job(post_type="carousel", media=[IMG, VID])
    await publisher(api).publish(job)
    k1, k2, parent = (api.body(r) for r in api.sent("POST", f"{V}/1784/media"))
    assert k1 == {"image_url": IMG[0], "is_carousel_item": True}
    assert k2 == {"media_type": "VIDEO", "video_url": VID[0], "is_carousel_item": True}
    assert parent == {"media_type": "CAROUSEL", "children": "K1,K2", "caption": "Hi #tag"}
    assert len(api.sent("GET", f"{V}/K2")) == 2  # the video child was waited for
    assert journal.entries[0] == ("prepared", {"container_id": "P1", "children": ["K1", "K2"]})


@pytest.mark.parametrize(("post_type", "media", "code"), [
    ("feed_story", [IMG], "unsupported_post_type"),
    ("carousel", [IMG], "carousel_size"),
    ("carousel", [IMG] * 11, "carousel_size"),
    ("feed", [("https://cdn.test/a.pdf", "document")], "media_type"),
    ("reel", [IMG], "media_type"),
    ("text", [], "unsupported_post_type"),
])
async def test_shapes_instagram_cannot_take_are_refused_without_calls(
        api, make_job, post_type, media, code):
    job, _ = make_job(post_type=post_type, media=media)
    with pytest.raises(PermanentError) as caught:
        await publisher(api).publish(job)
    assert caught.value.code == code
    assert api.requests == []


async def test_polls_in_progress_until_finished(api, make_job):
    routes(api, statuses=("IN_PROGRESS", "IN_PROGRESS", "FINISHED"))
    job, _ = make_job(media=[VID])
    assert (await publisher(api).publish(job)).external_id == "M1"
    assert len(api.sent("GET", f"{V}/C1")) == 3


async def test_a_spurious_object_missing_read_does_not_end_the_wait(api, make_job):
    routes(api)
    api.on("GET", f"{V}/C1", api.graph_error(100, 33, "Object does not exist"),
           {"status_code": "FINISHED"})
    job, _ = make_job(media=[VID])
    assert (await publisher(api).publish(job)).external_id == "M1"
    assert len(api.sent("GET", f"{V}/C1")) == 2


async def test_processing_longer_than_max_wait_is_transient(api, make_job):
    routes(api, statuses=("IN_PROGRESS",))
    job, journal = make_job(media=[VID])
    with pytest.raises(TransientError) as caught:
        await publisher(api, max_wait=0.02).publish(job)
    assert caught.value.code == "IN_PROGRESS"
    assert api.sent("POST", f"{V}/1784/media_publish") == []
    assert journal.phases == ["prepared"]  # the container is kept for the next attempt


async def test_error_container_with_a_permanent_code_fails_with_the_status(api, make_job):
    routes(api)
    api.on("GET", f"{V}/C1", {"status_code": "ERROR", "status":
                               "Error: Media upload has failed with error code 2207026"})
    job, _ = make_job(media=[VID])
    with pytest.raises(PermanentError) as caught:
        await publisher(api).publish(job)
    assert caught.value.code == "352/2207026"
    assert "format is not supported" in caught.value.message
    assert caught.value.message == ("Instagram refused the video: its format is not supported "
                                    "(MP4/MOV, H.264, AAC) (code 352/2207026).")


async def test_error_container_of_the_fresh_container_class_gets_one_new_container(
        api, make_job):
    routes(api)
    api.on("POST", f"{V}/1784/media", {"id": "C1"}, {"id": "C2"})
    api.on("GET", f"{V}/C1", {"status_code": "ERROR", "status": "error code 2207053"})
    api.on("GET", f"{V}/C2", {"status_code": "FINISHED"})
    job, _ = make_job(media=[VID])
    assert (await publisher(api).publish(job)).external_id == "M1"
    assert api.body(api.sent("POST", f"{V}/1784/media_publish")[0]) == {"creation_id": "C2"}


async def test_error_twice_gives_up_with_a_transient_error(api, make_job):
    routes(api)
    api.on("GET", f"{V}/C1", {"status_code": "ERROR", "status": "error code 2207076"})
    job, _ = make_job(media=[VID])
    with pytest.raises(TransientError) as caught:
        await publisher(api).publish(job)
    assert "2207076" in caught.value.message
    assert len(api.sent("POST", f"{V}/1784/media")) == 2


async def test_previous_finished_container_is_reused_not_recreated(api, make_job):
    routes(api, container="OLD")
    job, _ = make_job(media=[IMG], history=History(ids={"container_id": "OLD"}))
    assert (await publisher(api).publish(job)).external_id == "M1"
    assert api.sent("POST", f"{V}/1784/media") == []
    assert api.body(api.sent("POST", f"{V}/1784/media_publish")[0]) == {"creation_id": "OLD"}


async def test_previous_expired_container_is_replaced(api, make_job):
    routes(api, container="NEW")
    api.on("GET", f"{V}/OLD", {"status_code": "EXPIRED"})
    job, _ = make_job(media=[IMG], history=History(ids={"container_id": "OLD"}))
    await publisher(api).publish(job)
    assert api.body(api.sent("POST", f"{V}/1784/media_publish")[0]) == {"creation_id": "NEW"}


def recent_media(api, edge="media"):
    api.on("GET", f"{V}/1784/{edge}", {"data": [
        {"id": "OTHER", "caption": "Someone else's", "timestamp": "2026-03-01T12:00:40+0000",
         "permalink": "https://www.instagram.com/p/other/"},
        {"id": "M9", "caption": "Hi #tag", "timestamp": "2026-03-01T12:00:30+0000",
         "permalink": "https://www.instagram.com/p/m9/"},
        {"id": "OLDER", "caption": "Hi #tag", "timestamp": "2026-02-20T12:00:30+0000"}]})


async def test_previous_published_container_is_not_published_again(api, make_job):
    routes(api, container="OLD", statuses=("PUBLISHED",))
    recent_media(api)
    job, journal = make_job(media=[IMG], history=History(
        ids={"container_id": "OLD"}, committing_at=datetime(2026, 3, 1, 12, 0, 20, tzinfo=UTC)))
    result = await publisher(api).publish(job)
    assert api.sent("POST", f"{V}/1784/media_publish") == []
    assert (result.external_id, result.permalink) == ("M9", "https://www.instagram.com/p/m9/")
    assert result.extra["reconciled"] is True
    assert journal.entries[-1] == ("committed", {"external_id": "M9", "container_id": "OLD"})


async def test_reconciliation_pages_back_past_newer_posts(api, make_job):
    """A busy account posted more than a page since the commit: read on until found."""
    routes(api, container="OLD", statuses=("PUBLISHED",))
    newer = [{"id": f"N{i}", "caption": f"later {i}",
              "timestamp": f"2026-03-01T12:00:{59 - i % 20:02d}+0000"} for i in range(50)]
    api.on("GET", f"{V}/1784/media", lambda request: (
        {"data": [{"id": "M9", "caption": "Hi #tag", "timestamp": "2026-03-01T12:00:30+0000",
                   "permalink": "https://www.instagram.com/p/m9/"}]}
        if request.url.params.get("after") == "P2" else
        {"data": newer, "paging": {"cursors": {"after": "P2"}, "next": "https://graph.test/n"}}))
    job, _ = make_job(media=[IMG], history=History(
        ids={"container_id": "OLD"}, committing_at=datetime(2026, 3, 1, 12, 0, 20, tzinfo=UTC)))
    result = await publisher(api).publish(job)
    assert (result.external_id, result.permalink) == ("M9", "https://www.instagram.com/p/m9/")
    assert len(api.sent("GET", f"{V}/1784/media")) == 2
    assert api.sent("POST", f"{V}/1784/media_publish") == []


async def test_a_transient_read_error_is_retried_within_the_attempt(api, make_job):
    routes(api)
    api.on("GET", f"{V}/1784/content_publishing_limit",
           api.graph_error(2, message="Service temporarily unavailable", status=503),
           httpx.ConnectError("refused"), quota())
    job, _ = make_job(media=[IMG])
    assert (await publisher(api).publish(job)).external_id == "M1"
    assert len(api.sent("GET", f"{V}/1784/content_publishing_limit")) == 3


async def test_a_throttled_read_is_not_retried_within_the_attempt(api, make_job):
    routes(api)
    api.on("GET", f"{V}/1784/content_publishing_limit",
           api.graph_error(80002, message="Too many calls"))
    job, _ = make_job(media=[IMG])
    with pytest.raises(RateLimitedError):
        await publisher(api).publish(job)
    assert len(api.sent("GET", f"{V}/1784/content_publishing_limit")) == 1


async def test_published_but_unmatched_keeps_the_container_id(api, make_job):
    routes(api, container="OLD", statuses=("PUBLISHED",))
    api.on("GET", f"{V}/1784/media", {"data": [
        {"id": "X", "caption": "different", "timestamp": "2026-03-01T12:00:30+0000"}]})
    job, _ = make_job(media=[IMG], history=History(ids={"container_id": "OLD"}))
    result = await publisher(api).publish(job)
    assert result.external_id == "OLD" and result.extra["media_id_unknown"] is True


async def test_reconcile(api, make_job):
    job, _ = make_job(media=[IMG])
    assert await publisher(api).reconcile(job) is None  # no container: nothing was sent
    for status in ("FINISHED", "IN_PROGRESS", "EXPIRED", "ERROR"):
        api.routes.clear()
        api.on("GET", f"{V}/C1", {"status_code": status})
        job, _ = make_job(media=[IMG], history=History(ids={"container_id": "C1"}))
        assert await publisher(api).reconcile(job) is None, status
    api.routes.clear()
    api.on("GET", f"{V}/C1", {"status_code": "PUBLISHED"})
    recent_media(api, "stories")
    job, _ = make_job(post_type="story", caption="", media=[IMG],
                      history=History(ids={"container_id": "C1"},
                                      committing_at=datetime(2026, 3, 1, 12, 0, 38, tzinfo=UTC)))
    result = await publisher(api).reconcile(job)
    assert result is not None and result.external_id == "OTHER"  # stories: nearest in time
    api.routes.clear()
    api.on("GET", f"{V}/C1", {"status_code": "SOMETHING_NEW"})
    with pytest.raises(OutcomeUnknownError):
        await publisher(api).reconcile(job)


async def test_not_ready_on_publish_polls_again_then_publishes(api, make_job):
    routes(api)
    api.on("POST", f"{V}/1784/media_publish",
           api.graph_error(9007, 2207027, "Media ID is not available"), {"id": "M1"})
    job, journal = make_job(media=[IMG])
    assert (await publisher(api).publish(job)).external_id == "M1"
    assert len(api.sent("POST", f"{V}/1784/media_publish")) == 2
    assert journal.phases == ["prepared", "committing", "committing", "committed"]


async def test_quota_used_up_is_rate_limited_with_a_probed_wait(api, make_job):
    def limit(request: httpx.Request):
        since = request.url.params.get("since")
        if since is None:
            return quota(usage=50)
        hours = (int(since) - (int(NOW.timestamp()) + 60 - 86400)) // 3600
        return quota(usage=50 if hours < 4 else 49)  # a post leaves the window in 1-4 h

    api.on("GET", f"{V}/1784/content_publishing_limit", limit)
    job, _ = make_job(media=[IMG])
    with pytest.raises(RateLimitedError) as caught:
        await publisher(api).publish(job)
    assert caught.value.retry_after == 4 * 3600
    assert caught.value.quota == {"usage": 50, "total": 50, "window_seconds": 86400}
    assert caught.value.code == "9/2207042"
    assert api.sent("POST", f"{V}/1784/media") == []


async def test_quota_wait_is_the_whole_window_when_since_is_ignored(api, make_job):
    api.on("GET", f"{V}/1784/content_publishing_limit", quota(usage=51))
    job, _ = make_job(media=[IMG])
    with pytest.raises(RateLimitedError) as caught:
        await publisher(api).publish(job)
    assert caught.value.retry_after == 86400


async def test_read_quota_for_the_worker(api, make_job):
    api.on("GET", f"{V}/1784/content_publishing_limit", quota(usage=7))
    job, _ = make_job()
    assert (await publisher(api).read_quota(job.account)).usage == 7


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x"),
                                     httpx.Response(500, text="oops"),
                                     {"error": {"code": 2, "message": "Service unavailable"}}])
async def test_commit_failures_are_outcome_unknown(api, make_job, failure):
    routes(api)
    if isinstance(failure, dict):
        failure = httpx.Response(500, json=failure)
    api.on("POST", f"{V}/1784/media_publish", failure)
    job, journal = make_job(media=[IMG])
    with pytest.raises(OutcomeUnknownError):
        await publisher(api).publish(job)
    assert journal.phases[-1] == "committing"
    # Never sent again within the attempt: the next one reconciles first.
    assert len(api.sent("POST", f"{V}/1784/media_publish")) == 1


async def test_prepare_timeout_is_only_transient(api, make_job):
    routes(api)
    api.on("POST", f"{V}/1784/media", httpx.ReadTimeout("slow"))
    job, journal = make_job(media=[IMG])
    with pytest.raises(TransientError) as caught:
        await publisher(api).publish(job)
    assert type(caught.value) is TransientError
    assert "committing" not in journal.phases


async def test_missing_permalink_does_not_fail_the_post(api, make_job):
    routes(api)
    api.on("GET", f"{V}/M1", api.graph_error(2, message="later"))
    job, _ = make_job(media=[IMG])
    result = await publisher(api).publish(job)
    assert (result.external_id, result.permalink) == ("M1", None)


async def test_errors_carry_the_usage_reading(api, make_job):
    api.on("GET", f"{V}/1784/content_publishing_limit", api.graph_error(
        80002, message="Too many calls",
        headers={"x-business-use-case-usage":
                 '{"1784":[{"type":"instagram","call_count":96,'
                 '"estimated_time_to_regain_access":12}]}'}))
    job, _ = make_job(media=[IMG])
    with pytest.raises(RateLimitedError) as caught:
        await publisher(api).publish(job)
    assert caught.value.retry_after == 720
    assert caught.value.usage["max_percent"] == 96


async def test_tokens_stay_out_of_logs_and_errors(api, make_job, caplog):
    caplog.set_level(logging.DEBUG)
    routes(api)
    job, _ = make_job(media=[IMG])
    token = job.account.access_token
    await publisher(api).publish(job)
    api.routes.clear()
    api.on("GET", f"{V}/1784/content_publishing_limit",
           api.graph_error(190, 460, f"Error validating access token {token}"))
    with pytest.raises(PermanentError) as caught:
        await publisher(api).publish(job)
    assert "Reconnect the account" in caught.value.message
    for text in (caplog.text, str(caught.value), repr(caught.value), caught.value.message,
                 repr(job), *(str(r.url) for r in api.requests)):
        assert token not in text


async def test_a_missing_permission_meta_does_not_name_is_instagrams(api, make_job):
    routes(api)
    api.on("POST", f"{V}/1784/media", httpx.Response(403, json={"error": {"code": 10,
                                                                          "message": "no"}}))
    job, _ = make_job(media=[IMG])
    with pytest.raises(PermanentError) as caught:
        await publisher(api).publish(job)
    assert "grant instagram_basic, instagram_content_publish" in caught.value.message
