"""The Threads client against MockTransport handlers shaped like Meta's Threads API docs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from herald.platforms.base import (
    History,
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    PublishResult,
    RateLimitedError,
)
from herald.platforms.threads.client import ThreadsPublisher

V = "/v1.0"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IMG, VID = ("https://cdn.test/a.jpg", "image"), ("https://cdn.test/v.mp4", "video")
USER = "2601"


def publisher(api) -> ThreadsPublisher:
    return ThreadsPublisher(api.client(), base_url="https://graph.threads.test",
                            version="v1.0", poll_interval=0.001, max_poll_interval=0.002,
                            max_wait=0.5, now=lambda: NOW + timedelta(minutes=1))


def quota(usage=3, total=250):
    return {"data": [{"quota_usage": usage,
                      "config": {"quota_total": total, "quota_duration": 86400}}]}


def routes(api, *, statuses=("FINISHED",), usage=3):
    api.on("GET", f"{V}/{USER}/threads_publishing_limit", quota(usage))
    api.on("POST", f"{V}/{USER}/threads", {"id": "C1"})
    api.on("GET", f"{V}/C1", *[{"status": s, "id": "C1"} for s in statuses])
    api.on("POST", f"{V}/{USER}/threads_publish", {"id": "T1"})
    api.on("GET", f"{V}/T1", {"permalink": "https://www.threads.net/@acme/post/abc", "id": "T1"})


async def test_a_text_post_goes_through_container_poll_and_publish(api, make_job):
    routes(api)
    job, journal = make_job("threads", "text", "Hello", external_id=USER)
    result = await publisher(api).publish(job)
    assert result.external_id == "T1"
    assert result.permalink == "https://www.threads.net/@acme/post/abc"
    [create] = api.sent("POST", f"{V}/{USER}/threads")
    assert api.body(create) == {"media_type": "TEXT", "text": "Hello"}
    [publish] = api.sent("POST", f"{V}/{USER}/threads_publish")
    assert api.body(publish) == {"creation_id": "C1"}
    assert journal.phases == ["prepared", "committing", "committed"]
    assert result.extra["quota"] == {"usage": 3, "total": 250, "window_seconds": 86400}


async def test_a_video_is_polled_until_finished(api, make_job):
    routes(api, statuses=("IN_PROGRESS", "IN_PROGRESS", "FINISHED"))
    job, _ = make_job("threads", "video", "Clip", media=[VID], external_id=USER)
    assert (await publisher(api).publish(job)).external_id == "T1"
    assert len(api.sent("GET", f"{V}/C1")) == 3
    [create] = api.sent("POST", f"{V}/{USER}/threads")
    assert api.body(create) == {"media_type": "VIDEO", "video_url": VID[0], "text": "Clip"}


async def test_a_carousel_creates_items_then_the_parent(api, make_job):
    routes(api)
    items = iter(["I1", "I2", "P1"])
    api.on("POST", f"{V}/{USER}/threads", lambda r: {"id": next(items)})
    api.on("GET", f"{V}/(I1|I2|P1)", {"status": "FINISHED"})
    api.on("POST", f"{V}/{USER}/threads_publish", {"id": "T1"})
    job, journal = make_job("threads", "carousel", "Two", media=[IMG, VID], external_id=USER,
                            alt="a teal square")
    assert (await publisher(api).publish(job)).external_id == "T1"
    sent = [api.body(r) for r in api.sent("POST", f"{V}/{USER}/threads")]
    assert sent == [
        {"media_type": "IMAGE", "image_url": IMG[0], "alt_text": "a teal square",
         "is_carousel_item": True},
        {"media_type": "VIDEO", "video_url": VID[0], "is_carousel_item": True},
        {"media_type": "CAROUSEL", "children": "I1,I2", "text": "Two"}]
    assert journal.entries[0] == ("prepared", {"container_id": "P1", "children": ["I1", "I2"]})


async def test_a_container_published_earlier_is_never_published_again(api, make_job):
    """An earlier attempt's publish went through but its answer was lost."""
    routes(api, statuses=("PUBLISHED",))
    api.on("GET", f"{V}/{USER}/threads", {"data": [
        {"id": "T9", "text": "Someone else's", "timestamp": "2026-03-01T12:00:30+0000"},
        {"id": "T1", "text": "Hello", "timestamp": "2026-03-01T12:00:05+0000",
         "permalink": "https://www.threads.net/@acme/post/abc"}]})
    history = History(ids={"container_id": "C1"}, unsettled_commit=True,
                      committing_at=NOW)
    job, journal = make_job("threads", "text", "Hello", external_id=USER, history=history)
    result = await publisher(api).publish(job)
    assert result.external_id == "T1" and result.extra["reconciled"] is True
    assert api.sent("POST", f"{V}/{USER}/threads_publish") == []
    assert api.sent("POST", f"{V}/{USER}/threads") == []
    assert journal.phases == ["committed"]


@pytest.mark.parametrize(("status", "out"), [("FINISHED", False), ("IN_PROGRESS", False),
                                             ("ERROR", False), ("EXPIRED", False),
                                             ("PUBLISHED", True)])
async def test_reconcile_reads_the_container(api, make_job, status, out):
    routes(api, statuses=(status,))
    api.on("GET", f"{V}/{USER}/threads", {"data": [
        {"id": "T1", "text": "Hello", "timestamp": "2026-03-01T12:00:05+0000"}]})
    job, _ = make_job("threads", "text", "Hello", external_id=USER, history=History(
        ids={"container_id": "C1"}, committing_at=NOW))
    result = await publisher(api).reconcile(job)
    assert (result is not None) is out
    if out:
        assert result is not None and result.external_id == "T1"


async def test_reconcile_without_a_container_is_not_out_and_a_strange_status_is_unknown(
        api, make_job):
    job, _ = make_job("threads", "text", "Hello", external_id=USER)
    assert await publisher(api).reconcile(job) is None
    routes(api, statuses=("SOMETHING_NEW",))
    job, _ = make_job("threads", "text", "Hello", external_id=USER,
                      history=History(ids={"container_id": "C1"}))
    with pytest.raises(OutcomeUnknownError):
        await publisher(api).reconcile(job)


async def test_a_full_quota_waits_until_the_oldest_post_leaves_the_window(api, make_job):
    routes(api, usage=250)
    # The oldest post of the window was 22.5 hours ago: a slot frees in 1.5 hours.
    oldest = NOW + timedelta(minutes=1) - timedelta(hours=22.5)
    api.on("GET", f"{V}/{USER}/threads", {"data": [
        {"id": "T8", "timestamp": (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S%z")},
        {"id": "T7", "timestamp": oldest.strftime("%Y-%m-%dT%H:%M:%S%z")}]})
    job, _ = make_job("threads", "text", "Hello", external_id=USER)
    with pytest.raises(RateLimitedError) as caught:
        await publisher(api).publish(job)
    assert caught.value.retry_after == pytest.approx(1.5 * 3600)
    assert "250 of 250 posts in 24 h" in caught.value.message
    assert api.sent("POST", f"{V}/{USER}/threads") == []  # nothing made while it is full


async def test_a_commit_that_times_out_is_an_unknown_outcome(api, make_job):
    routes(api)
    api.on("POST", f"{V}/{USER}/threads_publish", httpx.ReadTimeout("slow"))
    job, journal = make_job("threads", "text", "Hello", external_id=USER)
    with pytest.raises(OutcomeUnknownError):
        await publisher(api).publish(job)
    assert journal.phases == ["prepared", "committing"]


async def test_an_expired_token_says_reconnect(api, make_job):
    api.on("GET", f"{V}/{USER}/threads_publishing_limit",
           api.graph_error(190, 463, "Session has expired"))
    job, _ = make_job("threads", "text", "Hello", external_id=USER)
    with pytest.raises(NeedsReauthError):
        await publisher(api).publish(job)


async def test_a_failed_video_names_the_reason(api, make_job):
    routes(api)
    api.on("GET", f"{V}/C1", {"status": "ERROR", "error_message": "INVALID_DURATION"})
    job, _ = make_job("threads", "video", "Long", media=[VID], external_id=USER)
    with pytest.raises(PermanentError) as caught:
        await publisher(api).publish(job)
    assert "length (at most 5 minutes)" in caught.value.message


async def test_the_first_comment_is_a_reply_and_is_found_again(api, make_job):
    api.on("POST", f"{V}/{USER}/threads", {"id": "R1"})
    api.on("GET", f"{V}/R1", {"status": "FINISHED"})
    api.on("POST", f"{V}/{USER}/threads_publish", {"id": "T2"})
    job, _ = make_job("threads", "text", "Hello", external_id=USER)
    post = PublishResult("T1")
    assert await publisher(api).comment(job, post, "More at example.com") == "T2"
    [create] = api.sent("POST", f"{V}/{USER}/threads")
    assert api.body(create) == {"media_type": "TEXT", "text": "More at example.com",
                                "reply_to_id": "T1"}
    api.on("GET", f"{V}/T1/replies", {"data": [
        {"id": "X1", "text": "More at example.com", "is_reply_owned_by_me": False},
        {"id": "T2", "text": "More at example.com", "is_reply_owned_by_me": True}]})
    assert await publisher(api).find_comment(job, post, "More at example.com") == "T2"
    assert await publisher(api).find_comment(job, post, "Something else") is None
    [listing, *_] = api.sent("GET", f"{V}/T1/replies")
    assert "is_reply_owned_by_me" in parse_qs(listing.url.query.decode())["fields"][0]
