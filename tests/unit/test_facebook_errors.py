"""Facebook's error mapping as a pure function: a Graph error in, a class and message out."""

from __future__ import annotations

import pytest

from herald.platforms.base import (
    NeedsReauthError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from herald.platforms.facebook.errors import facebook_error


def test_graph_errors_carry_facebooks_name_and_permissions():
    missing = facebook_error({"code": 200, "message": "no"}, step="commit")
    assert type(missing) is PermanentError
    assert missing.message == (
        "Facebook refused the call: the app lacks a permission (no). Reconnect the account "
        "and grant pages_manage_posts, pages_read_engagement and pages_show_list "
        "(publish_video for videos) (code 200).")
    named = facebook_error({"code": 200, "message": "Requires pages_manage_posts"},
                           step="commit")
    assert "grant pages_manage_posts (code 200)" in named.message
    role = facebook_error({"code": 190, "error_subcode": 492}, step="read")
    assert type(role) is NeedsReauthError
    assert role.message == ("Facebook no longer accepts the account's access token: the user no "
                            "longer has a role on the Page. Reconnect the account "
                            "(code 190/492).")


def test_pages_subcodes():
    fast = facebook_error({"code": 368, "error_subcode": 1390008}, step="commit")
    assert type(fast) is RateLimitedError
    assert fast.retry_after == 900
    assert fast.message == ("Facebook says the Page is posting too fast; the account waits "
                            "about 15 min (code 368/1390008).")
    ppa = facebook_error({"code": 200, "error_subcode": 1404078}, step="commit")
    assert type(ppa) is PermanentError
    assert "Page Publishing Authorization" in ppa.message


def test_code_368_says_it_is_often_the_content_not_always_the_account():
    exc = facebook_error({"message": "It looks like you were misusing this feature by going "
                          "too fast. You\u2019ve been temporarily blocked from using it.",
                          "type": "OAuthException", "code": 368,
                          "error_data": "{\"sentry_block_data\":\"Aa\"}",
                          "fbtrace_id": "AbC"}, step="commit")
    assert type(exc) is PermanentError
    assert exc.message == (
        "Facebook blocked this post under its policies (It looks like you were misusing this "
        "feature by going too fast. You\u2019ve been temporarily blocked from using it). It is "
        "often the content (a link or words Meta flags) rather than the account: change the "
        "post and retry; if every post is blocked, the account is restricted for a while "
        "(see its Support Inbox) (code 368).")


def test_code_100_is_shortened_and_names_the_missing_permission():
    long = facebook_error({"message": "Unsupported post request. Object with ID '1055' does "
                           "not exist, cannot be loaded due to missing permissions, or does "
                           "not support this operation. Please read the Graph API "
                           "documentation at https://developers.facebook.com/docs/graph-api",
                           "type": "GraphMethodException", "code": 100,
                           "error_subcode": 33}, step="commit")
    assert type(long) is PermanentError
    assert long.message == (
        "Facebook could not reach what the post refers to: it does not exist or the app "
        "lacks a permission. Reconnect the account and grant pages_manage_posts, "
        "pages_read_engagement and pages_show_list (publish_video for videos), then retry "
        "(code 100/33).")
    assert "developers.facebook.com" not in long.message
    value = facebook_error({"message": "(#100) The parameter url is required",
                            "type": "OAuthException", "code": 100}, step="commit")
    assert value.message == ("Facebook refused a value of the post: The parameter url is "
                             "required (code 100).")


@pytest.mark.parametrize(("error", "words"), [
    # Meta's Video API error table: "retry several times", "retry upload".
    ({"message": "There was a problem uploading your video file. Please try again with "
      "another file.", "type": "GraphException", "code": 390, "error_subcode": 6000},
     "had a problem receiving the video"),
    ({"message": "There was a problem uploading your video. Please try uploading it again.",
      "type": "OAuthException", "code": 390, "error_subcode": 1363019},
     "had a problem receiving the video"),
    ({"message": "Video Upload Timeout. Your video upload timed out before it could be "
      "completed.", "type": "OAuthException", "code": 390, "error_subcode": 1363030},
     "timed out receiving the video"),
    ({"message": "There was a problem uploading your video. Please try uploading it again.",
      "code": 390, "error_subcode": 1363037, "error_data": {"start_offset": 0,
                                                            "end_offset": 392695}},
     "lost part of the video upload"),
])
def test_video_upload_errors_meta_says_to_retry_are_retried(error, words):
    exc = facebook_error(error, step="commit")
    assert type(exc) is TransientError
    assert exc.retry_after == 60
    assert words in exc.message and exc.message.startswith("Facebook ")
