"""LinkedIn client against MockTransport handlers shaped like the Posts API reference."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

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
from herald.platforms.linkedin.client import LinkedInPublisher

NOW = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
PERSON, ORG = "urn:li:person:abc", "urn:li:organization:123"
IMG, VID = ("https://cdn.test/a.jpg", "image"), ("https://cdn.test/v.mp4", "video")
DOC = ("https://cdn.test/deck.pdf", "document")
SHARE = "urn:li:share:7141138937766391808"


def publisher(api, **knobs) -> LinkedInPublisher:
    settings = {"poll_interval": 0.001, "poll_backoff": 2.0, "max_poll_interval": 0.002,
                "max_wait": 0.5, **knobs}
    return LinkedInPublisher(api.client(), fetcher=api.fetcher(), base_url="https://api.linkedin.test",
                             version="202609", now=lambda: NOW, **settings)


def li_job(make_job, author=PERSON, caption="Launch day (v2)! #Herald", **kw):
    return make_job(platform="linkedin", external_id=author, caption=caption, **kw)


def created(urn=SHARE):
    return httpx.Response(201, headers={"x-restli-id": urn})


def li_error(status, **body):
    return httpx.Response(status, json={"status": status, **body})


def duplicate(urn=SHARE):
    return li_error(422, message=f"Content is a duplicate of {urn}",
                    errorDetailType="com.linkedin.common.error.BadRequest",
                    errorDetails={"inputErrors": [{"description": "Duplicate post is detected",
                                                   "input": {}, "code": "DUPLICATE_POST"}]})


def uploads(api, kind="images", urn="urn:li:image:I1"):
    key = kind[:-1]
    api.on("GET", "/a.jpg", httpx.Response(200, content=b"jpegbytes"))
    api.on("POST", f"/rest/{kind}", {"value": {
        "uploadUrlExpiresAt": 1770541529250, key: urn,
        "uploadUrl": f"https://www.linkedin.test/dms-uploads/{urn}"}})
    api.on("PUT", f"/dms-uploads/{urn}", httpx.Response(201))


def test_is_a_publisher(api):
    p: Publisher = publisher(api)
    assert p.platform == "linkedin"


async def test_text_post_headers_body_and_result(api, make_job):
    api.on("POST", "/rest/posts", created())
    job, journal = li_job(make_job, post_type="text", options={"visibility": "connections"})
    result = await publisher(api).publish(job)
    (request,) = api.requests
    assert request.headers["linkedin-version"] == "202609"
    assert request.headers["x-restli-protocol-version"] == "2.0.0"
    assert request.headers["authorization"] == f"Bearer {job.account.access_token}"
    assert api.body(request) == {
        "author": PERSON, "commentary": r"Launch day \(v2\)! #Herald",
        "visibility": "CONNECTIONS",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                         "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}
    assert result.external_id == SHARE
    assert result.permalink == f"https://www.linkedin.com/feed/update/{SHARE}/"
    assert journal.phases == ["committing", "committed"]


async def test_article_with_thumbnail(api, make_job):
    uploads(api)
    api.on("POST", "/rest/posts", created())
    job, _ = li_job(make_job, post_type="article", media=[IMG], options={
        "link": "https://blog.test/post", "title": "Post", "description": "About it"})
    await publisher(api).publish(job)
    assert api.body(api.sent("POST", "/rest/posts")[0])["content"] == {"article": {
        "source": "https://blog.test/post", "title": "Post", "description": "About it",
        "thumbnail": "urn:li:image:I1"}}


async def test_one_image_is_fetched_without_the_token_and_put_with_it(api, make_job):
    uploads(api)
    api.on("POST", "/rest/posts", created())
    job, journal = li_job(make_job, media=[IMG], alt="A cat", author=ORG)
    await publisher(api).publish(job)
    (fetch,) = api.sent("GET", "/a.jpg")
    assert "authorization" not in fetch.headers
    (init,) = api.sent("POST", "/rest/images")
    assert init.url.params["action"] == "initializeUpload"
    assert api.body(init) == {"initializeUploadRequest": {"owner": ORG}}
    (put,) = api.sent("PUT", "/dms-uploads/.*")
    assert put.content == b"jpegbytes"
    assert put.headers["authorization"] == f"Bearer {job.account.access_token}"
    assert api.body(api.sent("POST", "/rest/posts")[0])["content"] == {
        "media": {"id": "urn:li:image:I1", "altText": "A cat"}}
    assert journal.entries[0] == ("prepared", {"media_urns": ["urn:li:image:I1"]})


async def test_several_images_make_a_multi_image_post(api, make_job):
    api.on("GET", "/a.jpg", httpx.Response(200, content=b"x"))
    api.on("POST", "/rest/images", *[{"value": {"image": f"urn:li:image:{n}",
                                                "uploadUrl": f"https://u.test/up/{n}"}}
                                     for n in range(3)])
    api.on("PUT", "/up/.*", httpx.Response(201))
    api.on("POST", "/rest/posts", created())
    job, _ = li_job(make_job, post_type="carousel", media=[IMG] * 3)
    await publisher(api).publish(job)
    assert api.body(api.sent("POST", "/rest/posts")[0])["content"] == {"multiImage": {
        "images": [{"id": "urn:li:image:0"}, {"id": "urn:li:image:1"},
                   {"id": "urn:li:image:2"}]}}


def video_routes(api, statuses=("PROCESSING", "AVAILABLE")):
    api.on("GET", "/v.mp4", httpx.Response(200, content=b"0123456789"))

    def videos(request: httpx.Request):
        if request.url.params["action"] == "initializeUpload":
            return {"value": {"video": "urn:li:video:V1", "uploadToken": "",
                              "uploadUrlsExpireAt": 1, "uploadInstructions": [
                                  {"uploadUrl": "https://u.test/part/0", "firstByte": 0,
                                   "lastByte": 5},
                                  {"uploadUrl": "https://u.test/part/1", "firstByte": 6,
                                   "lastByte": 9}]}}
        return httpx.Response(200)

    api.on("POST", "/rest/videos", videos)
    api.on("PUT", "/part/0", httpx.Response(200, headers={"etag": "e0"}))
    api.on("PUT", "/part/1", httpx.Response(200, headers={"etag": "e1"}))
    api.on("GET", "/rest/videos/urn:li:video:V1", *[{"status": s} for s in statuses])
    api.on("POST", "/rest/posts", created())


async def test_video_upload_in_parts_finalize_and_wait(api, make_job):
    video_routes(api)
    job, _ = li_job(make_job, post_type="video", media=[VID], options={"title": "Demo"})
    await publisher(api).publish(job)
    init, final = (api.body(r) for r in api.sent("POST", "/rest/videos"))
    assert init == {"initializeUploadRequest": {"owner": PERSON, "fileSizeBytes": 10,
                                                "uploadCaptions": False,
                                                "uploadThumbnail": False}}
    assert [r.content for r in api.sent("PUT", "/part/.*")] == [b"012345", b"6789"]
    assert final == {"finalizeUploadRequest": {"video": "urn:li:video:V1", "uploadToken": "",
                                               "uploadedPartIds": ["e0", "e1"]}}
    polls = api.sent("GET", "/rest/videos/.*")
    assert len(polls) == 2
    assert polls[0].url.raw_path == b"/rest/videos/urn%3Ali%3Avideo%3AV1"  # URNs encoded
    assert api.body(api.sent("POST", "/rest/posts")[0])["content"] == {
        "media": {"id": "urn:li:video:V1", "title": "Demo"}}


async def test_video_processing_failure_is_permanent(api, make_job):
    video_routes(api)
    api.on("GET", "/rest/videos/urn:li:video:V1",
           {"status": "PROCESSING_FAILED", "processingFailureReason": "Bad codec"})
    job, _ = li_job(make_job, post_type="video", media=[VID])
    with pytest.raises(PermanentError, match="Bad codec"):
        await publisher(api).publish(job)
    assert api.sent("POST", "/rest/posts") == []


async def test_video_still_processing_after_max_wait_is_transient(api, make_job):
    video_routes(api, statuses=("PROCESSING",))
    job, _ = li_job(make_job, post_type="video", media=[VID])
    with pytest.raises(TransientError):
        await publisher(api, max_wait=0.02).publish(job)


async def test_video_status_blips_are_tolerated_and_403_means_unreadable(api, make_job):
    video_routes(api)
    api.on("GET", "/rest/videos/urn:li:video:V1", li_error(404, message="Not found"),
           li_error(503, message="busy"), {"status": "AVAILABLE"})
    job, _ = li_job(make_job, post_type="video", media=[VID])
    await publisher(api).publish(job)
    assert len(api.sent("GET", "/rest/videos/.*")) == 3
    api.on("GET", "/rest/videos/urn:li:video:V1", li_error(403, message="Member cannot read"))
    await publisher(api).publish(job)  # processing goes on; the post is sent anyway


async def test_document_post(api, make_job):
    api.on("GET", "/deck.pdf", httpx.Response(200, content=b"%PDF"))
    api.on("POST", "/rest/documents", {"value": {"document": "urn:li:document:D1",
                                                 "uploadUrl": "https://u.test/doc"}})
    api.on("PUT", "/doc", httpx.Response(201))
    api.on("POST", "/rest/posts", created())
    job, _ = li_job(make_job, media=[DOC])
    await publisher(api).publish(job)
    assert api.body(api.sent("POST", "/rest/posts")[0])["content"] == {
        "media": {"id": "urn:li:document:D1", "title": "deck.pdf"}}


async def test_uploads_of_an_earlier_attempt_are_reused(api, make_job):
    api.on("POST", "/rest/posts", created())
    job, _ = li_job(make_job, media=[IMG],
                    history=History(ids={"media_urns": ["urn:li:image:OLD"]}))
    await publisher(api).publish(job)
    assert [r.url.path for r in api.requests] == ["/rest/posts"]


@pytest.mark.parametrize(("reply", "cls", "words"), [
    (li_error(401, serviceErrorCode=65600, message="Invalid access token"), NeedsReauthError,
     "the token is invalid"),
    (li_error(401, serviceErrorCode=65601, code="REVOKED_ACCESS_TOKEN", message="revoked"),
     NeedsReauthError, "revoked by the user"),
    (li_error(401, serviceErrorCode=65602, code="EXPIRED_ACCESS_TOKEN", message="expired"),
     NeedsReauthError, "has expired"),
    (li_error(403, message="Not enough permissions"), PermanentError, "w_member_social"),
    (li_error(426, code="NONEXISTENT_VERSION",
              message="Requested version 20241101 is not active"), PermanentError,
     "HERALD_LINKEDIN_VERSION"),
    (li_error(422, message="Invalid", errorDetails={"inputErrors": [
        {"description": "Commentary too long", "code": "INVALID_LENGTH"}]}), PermanentError,
     "Commentary too long"),
    (li_error(400, message="Bad field"), PermanentError, "Bad field"),
    (li_error(500, message="boom"), OutcomeUnknownError, "may or may not"),
])
async def test_post_errors_map_to_the_hierarchy(api, make_job, reply, cls, words):
    api.on("POST", "/rest/posts", reply)
    job, _ = li_job(make_job, post_type="text")
    with pytest.raises(cls) as caught:
        await publisher(api).publish(job)
    assert type(caught.value) is cls
    assert words in caught.value.message
    assert caught.value.code.startswith(str(reply.status_code))


async def test_426_names_the_setting_and_version(api, make_job):
    api.on("POST", "/rest/posts", li_error(426, code="NONEXISTENT_VERSION",
                                           message="Requested version 202609 is not active"))
    job, _ = li_job(make_job, post_type="text")
    with pytest.raises(PermanentError) as caught:
        await publisher(api).publish(job)
    assert caught.value.code == "426/NONEXISTENT_VERSION"
    assert "202609" in caught.value.message and "HERALD_LINKEDIN_VERSION" in caught.value.message


async def test_403_for_an_organization_names_the_roles(api, make_job):
    api.on("POST", "/rest/posts", li_error(403, message="Unpermitted"))
    job, _ = li_job(make_job, author=ORG, post_type="text")
    with pytest.raises(PermanentError) as caught:
        await publisher(api).publish(job)
    assert "w_organization_social" in caught.value.message
    assert "ADMINISTRATOR" in caught.value.message


async def test_429_daily_limit_waits_until_midnight_utc_other_throttles_less(api, make_job):
    api.on("POST", "/rest/posts", li_error(429, serviceErrorCode=101, message=(
        "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.")))
    job, _ = li_job(make_job, post_type="text")
    with pytest.raises(RateLimitedError) as caught:
        await publisher(api).publish(job)
    assert caught.value.retry_after == 2 * 3600 + 60  # NOW is 22:00 UTC
    api.on("POST", "/rest/posts", li_error(429, message="Too many requests"))
    with pytest.raises(RateLimitedError) as caught:
        await publisher(api).publish(job)
    assert caught.value.retry_after == 900


async def test_duplicate_on_a_first_attempt_is_a_refusal_not_the_older_post(api, make_job):
    # Shaped like LinkedIn's real answer: nothing of ours was committed before, so the
    # urn it names is an older post with the same text, and nothing went out now.
    api.on("POST", "/rest/posts", duplicate())
    job, journal = li_job(make_job, post_type="text")
    with pytest.raises(PermanentError) as caught:
        await publisher(api).publish(job)
    assert type(caught.value) is PermanentError
    assert caught.value.code == "422/DUPLICATE_POST"
    assert caught.value.message == (
        f"LinkedIn refused this post as a duplicate of an earlier post ({SHARE}) and "
        "published nothing. It refuses the same text from the same author within a while: "
        "change the text (or wait), then retry.")
    assert [phase for phase, _ in journal.entries] == ["committing"]  # never "committed"


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")])
async def test_commit_timeout_is_outcome_unknown(api, make_job, failure):
    api.on("POST", "/rest/posts", failure)
    job, journal = li_job(make_job, post_type="text")
    with pytest.raises(OutcomeUnknownError):
        await publisher(api).publish(job)
    assert journal.phases[-1] == "committing"


async def test_upload_timeout_and_5xx_are_transient(api, make_job):
    uploads(api)
    api.on("PUT", "/dms-uploads/.*", httpx.WriteTimeout("slow"))
    job, journal = li_job(make_job, media=[IMG])
    with pytest.raises(TransientError) as caught:
        await publisher(api).publish(job)
    assert type(caught.value) is TransientError and journal.phases == []
    api.on("PUT", "/dms-uploads/.*", li_error(503, message="busy"))
    with pytest.raises(TransientError) as caught:
        await publisher(api).publish(job)
    assert type(caught.value) is TransientError


async def test_bad_author_urn_is_refused(api, make_job):
    job, _ = li_job(make_job, author="12345", post_type="text")
    with pytest.raises(PermanentError, match="URN"):
        await publisher(api).publish(job)


async def test_tokens_stay_out_of_logs_and_errors(api, make_job, caplog):
    caplog.set_level(logging.DEBUG)
    uploads(api)
    api.on("POST", "/rest/posts", created())
    job, _ = li_job(make_job, media=[IMG])
    token = job.account.access_token
    await publisher(api).publish(job)
    api.on("POST", "/rest/posts", li_error(401, serviceErrorCode=65600,
                                           message=f"Invalid access token {token}"))
    with pytest.raises(NeedsReauthError) as caught:
        await publisher(api).publish(job)
    for text in (caplog.text, str(caught.value), repr(caught.value), repr(job)):
        assert token not in text
