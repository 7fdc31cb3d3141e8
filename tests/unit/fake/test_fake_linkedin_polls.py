"""LinkedIn polls through the fake's /rest/posts, over real HTTP."""

from __future__ import annotations

import pytest

from tests.unit.fake.conftest import MEMBER, ORG


def _poll(**changes):
    poll = {"question": "Which day?", "options": [{"text": "Monday"}, {"text": "Friday"}],
            "settings": {"duration": "THREE_DAYS"}}
    poll.update(changes)
    return {"poll": poll}


@pytest.mark.parametrize("author", [MEMBER, ORG])
def test_a_poll_is_created_and_recorded(li, state, author):
    response = li.post(author=author, commentary="Help us pick", content=_poll())
    assert response.status_code == 201, response.text
    [record] = state.published()
    assert record.kind == "poll" and record.external_id == response.headers["x-restli-id"]
    assert "[poll] Which day? (Monday / Friday)" in record.shown()


@pytest.mark.parametrize(("content", "field"), [
    (_poll(options=[{"text": str(n)} for n in range(5)]), "content/poll/options"),
    (_poll(options=[{"text": "Monday"}, {"text": "x" * 31}]), "content/poll/options/1/text"),
    (_poll(question=""), "content/poll/question"),
    (_poll(settings={"duration": "FOREVER"}), "content/poll/settings/duration"),
])
def test_a_bad_poll_is_a_422_naming_the_field(li, state, content, field):
    response = li.post(content=content)
    assert response.status_code == 422, response.text
    [detail] = response.json()["errorDetails"]["inputErrors"]
    assert detail["input"]["inputPath"]["fieldPath"] == field
    assert state.published() == []
