"""Facebook reels and stories and LinkedIn polls refused at scheduling time (422, with a
sentence that says what to change), and accepted when they are right."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from herald.models import Post
from tests.media_files import mp4_bytes


def _account(client, auth, platform: str, external_id: str) -> str:
    response = client.post("/api/v1/accounts", headers=auth, json={
        "platform": platform, "external_id": external_id, "name": external_id,
        "access_token": "t"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _video(client, auth, *, seconds: float = 12, width: int = 1080,
           height: int = 1920) -> str:
    data = mp4_bytes(seconds=seconds, width=width, height=height, data_bytes=100_000)
    response = client.post("/api/v1/media", headers=auth,
                           files={"file": ("clip.mp4", data, "video/mp4")})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["url"])


def _post(client, auth, **body: Any):
    return client.post("/api/v1/posts", headers=auth, json={"run_at": "now", **body})


def _count(herald) -> int:
    with herald.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Post)) or 0)


def _refused(response) -> str:
    assert response.status_code == 422, response.text
    return str(response.json()["error"]["message"])


@pytest.fixture
def page(client, auth) -> str:
    return _account(client, auth, "facebook", "1001")


def test_a_nine_sixteen_reel_of_twelve_seconds_is_accepted(client, auth, page):
    url = _video(client, auth)
    response = _post(client, auth, account_id=page, post_type="reel", caption="reel",
                     media=[{"url": url, "type": "video"}])
    assert response.status_code == 201, response.text


def test_a_two_second_reel_is_refused(client, auth, herald, page):
    url = _video(client, auth, seconds=2)
    message = _refused(_post(client, auth, account_id=page, post_type="reel",
                             media=[{"url": url, "type": "video"}]))
    assert "Facebook reels must last 3 seconds to 90 seconds" in message
    assert "lasts 2 seconds" in message
    assert _count(herald) == 0


def test_a_reel_over_ninety_seconds_is_refused(client, auth, page):
    url = _video(client, auth, seconds=91)
    assert "lasts 91 seconds" in _refused(_post(client, auth, account_id=page,
                                                post_type="reel",
                                                media=[{"url": url, "type": "video"}]))


def test_a_sixteen_nine_reel_is_refused(client, auth, herald, page):
    url = _video(client, auth, width=1920, height=1080)
    message = _refused(_post(client, auth, account_id=page, post_type="reel",
                             media=[{"url": url, "type": "video"}]))
    assert "must be vertical 9:16" in message and "1920x1080 (16:9)" in message
    assert _count(herald) == 0


def test_a_story_video_over_sixty_seconds_is_refused(client, auth, page):
    url = _video(client, auth, seconds=75)
    assert "Facebook story videos must last 3 seconds to 60 seconds" in _refused(_post(
        client, auth, account_id=page, post_type="story",
        media=[{"url": url, "type": "video"}]))


def test_a_story_with_text_is_refused(client, auth, page, image_url):
    assert "Facebook stories carry no text" in _refused(_post(
        client, auth, account_id=page, post_type="story", caption="hello",
        media=[{"url": image_url}]))


def test_a_first_comment_on_a_story_is_refused_and_on_a_reel_accepted(client, auth, page,
                                                                       image_url):
    message = _refused(_post(client, auth, account_id=page, post_type="story",
                             media=[{"url": image_url}], first_comment="first!"))
    assert "Facebook stories take no comments; leave out first_comment." in message
    url = _video(client, auth)
    response = _post(client, auth, account_id=page, post_type="reel", caption="reel",
                     media=[{"url": url, "type": "video"}], first_comment="first!")
    assert response.status_code == 201, response.text


# --- LinkedIn polls ------------------------------------------------------------------------

POLL = {"question": "Which launch day?", "options": ["Monday", "Friday"],
        "duration": "THREE_DAYS"}


@pytest.mark.parametrize("external_id", ["urn:li:person:abc", "urn:li:organization:42"])
def test_a_poll_is_accepted_for_members_and_organizations(client, auth, external_id):
    account = _account(client, auth, "linkedin", external_id)
    response = _post(client, auth, account_id=account, post_type="poll",
                     caption="Help us pick", options={"poll": POLL})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("poll,expected", [
    ({**POLL, "options": ["a", "b", "c", "d", "e"]},
     "A LinkedIn poll needs 2 to 4 options; this one has 5."),
    ({**POLL, "options": ["Monday", "x" * 31]},
     "LinkedIn poll options are limited to 30 characters; option 2"),
    ({**POLL, "question": ""}, "A LinkedIn poll needs a question (options.poll.question)."),
    ({**POLL, "question": "   "}, "A LinkedIn poll needs a question"),
    ({**POLL, "options": ["Only one"]}, "needs 2 to 4 options; this one has 1."),
    ({**POLL, "duration": "ONE_WEEK"}, "'ONE_WEEK' is not one of them"),
    ({**POLL, "options": ["Yes", "yes"]}, "must differ from each other"),
    ({**POLL, "question": "q" * 141}, "limited to 140 characters; this one has 141"),
])
def test_a_bad_poll_is_refused_at_scheduling(client, auth, herald, poll, expected):
    account = _account(client, auth, "linkedin", "urn:li:organization:42")
    message = _refused(_post(client, auth, account_id=account, post_type="poll",
                             options={"poll": poll}))
    assert expected in message
    assert _count(herald) == 0


def test_a_poll_without_its_options_or_with_media_is_refused(client, auth, image_url):
    account = _account(client, auth, "linkedin", "urn:li:organization:42")
    assert "needs options.poll" in _refused(_post(client, auth, account_id=account,
                                                  post_type="poll", caption="?"))
    assert "carries no media" in _refused(_post(client, auth, account_id=account,
                                                post_type="poll", options={"poll": POLL},
                                                media=[{"url": image_url}]))


def test_a_poll_is_refused_where_the_platform_has_none(client, auth, page):
    message = _refused(_post(client, auth, account_id=page, post_type="poll", caption="?",
                             options={"poll": POLL}))
    assert "Facebook cannot publish 'poll' posts" in message
