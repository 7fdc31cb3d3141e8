"""Instagram's error mapping as pure functions: a Graph error or a container status in, a
class and message out."""

from __future__ import annotations

import pytest

from herald.platforms.base import NeedsReauthError, PermanentError, RateLimitedError
from herald.platforms.graph import ContainerNotReady, NeedsNewContainer
from herald.platforms.instagram.client import QuotaReading
from herald.platforms.instagram.errors import (
    container_error,
    container_failure,
    instagram_error,
    quota_used_up,
)


def test_graph_errors_carry_instagrams_name_and_permissions():
    missing = instagram_error({"code": 10, "message": "no"}, step="read")
    assert type(missing) is PermanentError
    assert missing.message == (
        "Instagram refused the call: the app lacks a permission (no). Reconnect the account "
        "and grant instagram_basic, instagram_content_publish and pages_read_engagement "
        "(code 10).")
    token = instagram_error({"code": 190, "error_subcode": 460}, step="commit")
    assert type(token) is NeedsReauthError
    assert token.message.startswith("Instagram no longer accepts the account's access token")
    assert type(instagram_error({"code": 9007}, step="commit")) is ContainerNotReady


@pytest.mark.parametrize(("status", "cls", "message"), [
    # Shaped like Meta's real status texts: the subcode is all they carry, so it is said
    # once, as the code, never quoted back.
    ("Error: Media upload has failed with error code 2207026", PermanentError,
     "Instagram refused the video: its format is not supported (MP4/MOV, H.264, AAC) "
     "(code 352/2207026)."),
    ("Error: 2207004", PermanentError, "Instagram refused the image: it is larger than 8 MiB "
     "(code 36000/2207004)."),
    ("Error 2207052 while fetching", NeedsNewContainer, "Instagram could not fetch the media "
     "from its URL (is it public?) while processing the media; Herald builds a fresh "
     "container and tries again (code 9004/2207052)."),
    # A transient row still means a dead container: only a fresh one can succeed.
    ("2207001", NeedsNewContainer, "Instagram had an internal server error while processing "
     "the media; Herald builds a fresh container and tries again (code -1/2207001)."),
    # Without a subcode Meta's text is all there is: said once, with what to check.
    ("Error: Media ID is not available", PermanentError, "Instagram could not process the "
     "media (it said: Media ID is not available). Check that its URL is public and the file "
     "meets Instagram's format rules, then retry the post."),
    ("", PermanentError, "Instagram could not process the media and gave no reason. Check "
     "that its URL is public and the file meets Instagram's format rules, then retry the "
     "post."),
    ("None", PermanentError, "Instagram could not process the media and gave no reason. "
     "Check that its URL is public and the file meets Instagram's format rules, then retry "
     "the post."),
])
def test_an_error_container_is_mapped_by_the_subcode_in_its_status(status, cls, message):
    exc = container_error(status)
    assert type(exc) is cls
    assert exc.message == message
    assert "None" not in exc.message and "said: 'Error" not in exc.message


def test_not_an_instagram_business_says_what_to_do_not_to_reconnect():
    # Meta's real answer for a personal account: reconnecting cannot change its type.
    exc = instagram_error({"message": "(#10) The user is not an Instagram Business",
                           "type": "OAuthException", "code": 10,
                           "fbtrace_id": "AbC123"}, step="commit")
    assert type(exc) is PermanentError
    assert exc.message == (
        "Instagram publishes only from professional accounts, and this one is a personal "
        "account. In the Instagram app, switch it to a Business or Creator account "
        "(Settings, Account type and tools) linked to the Facebook Page, then retry the post "
        "(code 10).")
    assert "Reconnect" not in exc.message


def test_container_statuses_that_end_a_wait():
    assert type(container_failure("ERROR", "Error: 2207057")) is PermanentError
    expired = container_failure("EXPIRED", "")
    assert type(expired) is NeedsNewContainer
    assert expired.code == "EXPIRED"
    assert expired.message == ("Instagram let the media container expire (24 h) before it was "
                               "published.")
    for status in ("FINISHED", "IN_PROGRESS", "PUBLISHED", ""):
        assert container_failure(status, "") is None


def test_a_used_up_publishing_limit_waits_for_a_slot_and_carries_the_reading():
    exc = quota_used_up(QuotaReading(50, 50, 86400), 4 * 3600.0)
    assert type(exc) is RateLimitedError
    assert exc.retry_after == 4 * 3600
    assert exc.code == "9/2207042"
    assert exc.message == ("Instagram's publishing limit is used up (50 of 50 posts in 24 h); "
                           "a slot frees in about 4 h (code 9/2207042).")
    assert exc.quota == {"usage": 50, "total": 50, "window_seconds": 86400}  # type: ignore[attr-defined]


def test_instagram_login_names_its_own_permissions_and_no_page():
    from herald.platforms.instagram_login.errors import login_error

    missing = login_error({"code": 10, "message": "no"}, step="read")
    assert type(missing) is PermanentError
    assert missing.message == (
        "Instagram refused the call: the app lacks a permission (no). Reconnect the account "
        "and grant instagram_business_basic, instagram_business_content_publish and "
        "instagram_business_manage_comments (code 10).")
    personal = login_error({"message": "(#10) The user is not an Instagram Business",
                            "code": 10}, step="commit")
    assert "Facebook Page" not in personal.message
    assert "switch it to a Business or Creator account (Settings, Account type and tools), "\
           "then retry" in personal.message
    assert type(login_error({"code": 190, "error_subcode": 463}, step="commit")) is \
        NeedsReauthError
