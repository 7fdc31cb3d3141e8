"""LinkedIn reconciliation: read back organization posts, resend member posts for proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from herald.platforms.base import History, OutcomeUnknownError
from herald.platforms.linkedin.client import LinkedInPublisher

NOW = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
PERSON, ORG = "urn:li:person:abc", "urn:li:organization:123"
IMG = ("https://cdn.test/a.jpg", "image")
SHARE = "urn:li:share:7141138937766391808"


def publisher(api) -> LinkedInPublisher:
    return LinkedInPublisher(api.client(), fetcher=api.fetcher(), base_url="https://api.linkedin.test",
                             version="202609", now=lambda: NOW)


def li_job(make_job, author=PERSON, caption="Launch day (v2)! #Herald", **kw):
    return make_job(platform="linkedin", external_id=author, caption=caption, **kw)


def created(urn=SHARE):
    return httpx.Response(201, headers={"x-restli-id": urn})


def li_error(status, **body):
    return httpx.Response(status, json={"status": status, **body})


def duplicate(urn=SHARE):
    return li_error(422, message=f"Content is a duplicate of {urn}",
                    errorDetails={"inputErrors": [{"description": "Duplicate post is detected",
                                                   "input": {}, "code": "DUPLICATE_POST"}]})


COMMITTED = History(committing_at=NOW - timedelta(minutes=2))


def org_posts(*elements):
    return {"elements": [{"id": i, "commentary": c, "createdAt": ms, "lastModifiedAt": ms}
                         for i, c, ms in elements], "paging": {}}


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def test_reconcile_without_a_commit_is_none(api, make_job):
    job, _ = li_job(make_job)
    assert await publisher(api).reconcile(job) is None and api.requests == []


async def test_reconcile_organization_reads_recent_posts(api, make_job):
    api.on("GET", "/rest/posts", org_posts(
        ("urn:li:share:2", "Other", ms(NOW)),
        ("urn:li:share:1", r"Launch day \(v2\)! #Herald", ms(NOW - timedelta(minutes=1)))))
    job, _ = li_job(make_job, author=ORG, post_type="text", history=COMMITTED)
    result = await publisher(api).reconcile(job)
    assert result is not None and result.external_id == "urn:li:share:1"
    (finder,) = api.requests
    assert finder.headers["x-restli-method"] == "FINDER"
    assert finder.url.params["author"] == ORG and finder.url.params["q"] == "author"
    assert "urn%3Ali%3Aorganization%3A123" in str(finder.url)
    assert api.sent("POST", "/rest/posts") == []


async def test_reconcile_organization_none_when_the_listing_covers_the_window(api, make_job):
    api.on("GET", "/rest/posts", org_posts(("urn:li:share:2", "Other", ms(NOW))))
    job, _ = li_job(make_job, author=ORG, post_type="text", history=COMMITTED)
    assert await publisher(api).reconcile(job) is None


async def test_reconcile_organization_that_cannot_settle_resends_for_proof(api, make_job):
    recent = [(f"urn:li:share:{n}", "Other", ms(NOW)) for n in range(10)]
    api.on("GET", "/rest/posts", org_posts(*recent))
    api.on("POST", "/rest/posts", duplicate())
    job, _ = li_job(make_job, author=ORG, post_type="text", history=COMMITTED)
    result = await publisher(api).reconcile(job)
    assert result is not None and result.extra["duplicate_of"] == SHARE


async def test_reconcile_member_resends_the_identical_post(api, make_job):
    api.on("POST", "/rest/posts", duplicate())
    job, _ = li_job(make_job, media=[IMG], history=History(
        ids={"media_urns": ["urn:li:image:I1"]}, committing_at=COMMITTED.committing_at))
    result = await publisher(api).reconcile(job)
    assert result is not None and result.external_id == SHARE
    assert result.extra == {"reconciled": True, "duplicate": True, "duplicate_of": SHARE}
    body = api.body(api.sent("POST", "/rest/posts")[0])
    assert body["content"] == {"media": {"id": "urn:li:image:I1"}}  # same upload, no new one
    assert api.sent("GET", "/a.jpg") == []


async def test_reconcile_member_resend_that_is_created_is_the_only_post(api, make_job):
    api.on("POST", "/rest/posts", created("urn:li:share:99"))
    job, _ = li_job(make_job, post_type="text", history=COMMITTED)
    result = await publisher(api).reconcile(job)
    assert result is not None and result.external_id == "urn:li:share:99"


@pytest.mark.parametrize(("caption", "history"), [
    ("", COMMITTED),  # nothing for the duplicate check to compare
    ("Hi", COMMITTED),  # media but its uploads were not recorded
])
async def test_reconcile_member_that_cannot_be_proven_is_outcome_unknown(
        api, make_job, caption, history):
    job, _ = li_job(make_job, caption=caption, media=[IMG], history=history)
    with pytest.raises(OutcomeUnknownError):
        await publisher(api).reconcile(job)
    assert api.requests == []


async def test_reconcile_duplicate_without_urn_is_outcome_unknown(api, make_job):
    reply = duplicate()
    api.on("POST", "/rest/posts", li_error(422, message="Duplicate", errorDetails={
        "inputErrors": [{"code": "DUPLICATE_POST", "description": "dup"}]}))
    assert reply.status_code == 422
    job, _ = li_job(make_job, post_type="text", history=COMMITTED)
    with pytest.raises(OutcomeUnknownError):
        await publisher(api).reconcile(job)


async def test_reconcile_organization_without_read_permission_resends(api, make_job):
    api.on("GET", "/rest/posts", li_error(403, message="Not enough permissions"))
    api.on("POST", "/rest/posts", duplicate())
    job, _ = li_job(make_job, author=ORG, post_type="text", history=COMMITTED)
    result = await publisher(api).reconcile(job)
    assert result is not None and result.external_id == SHARE
