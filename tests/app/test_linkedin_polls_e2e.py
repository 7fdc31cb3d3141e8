"""LinkedIn polls through the real worker and client, over real HTTP to the fake."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from herald.platforms.fake import FakeServer
from herald.runtime import Herald
from tests.app.test_publish_e2e import LI, LI_ORG, create, drain
from tests.helpers import add_account

POLL = {"question": "Which launch day?", "options": ["Monday", "Friday", "Never"],
        "duration": "THREE_DAYS"}


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
def authors(herald, fake, company) -> dict[str, str]:
    ids = {}
    for urn in (LI, LI_ORG):
        ids[urn] = add_account(herald, company[0], "linkedin", urn)
        fake.state.add_account("linkedin", urn, "secret-token-" + urn)
    return ids


@pytest.mark.all_engines
async def test_a_poll_publishes_for_a_member_and_an_organization(herald, fake, authors,
                                                                 company):
    ids = [pid for urn in (LI, LI_ORG) for pid in await asyncio.to_thread(
        create, herald, company[0], account_id=authors[urn], post_type="poll",
        caption=f"Help us pick ({urn[-5:]})", options={"poll": POLL})]
    posts = await drain(herald, ids)
    assert {p.status for p in posts.values()} == {"published"}, {
        p.account_id: p.error_message for p in posts.values()}
    for post in posts.values():
        stored = fake.state.data.li_posts[post.external_post_id]
        assert stored.body["content"] == {"poll": {
            "question": "Which launch day?",
            "options": [{"text": "Monday"}, {"text": "Friday"}, {"text": "Never"}],
            "settings": {"duration": "THREE_DAYS"}}}
    assert sorted(r.kind for r in fake.state.published(platform="linkedin")) == ["poll", "poll"]


async def test_a_poll_whose_answer_was_lost_is_not_posted_twice(herald, fake, authors,
                                                                company):
    fake.state.add_fault("drop", platform="linkedin", endpoint="commit", count=1)
    [pid] = await asyncio.to_thread(create, herald, company[0], account_id=authors[LI_ORG],
                                    post_type="poll", caption="Lost answer poll",
                                    options={"poll": POLL})
    [post] = (await drain(herald, [pid])).values()
    assert post.status == "published", post.error_message
    assert [r.external_id for r in fake.state.published(platform="linkedin")] == [
        post.external_post_id]
