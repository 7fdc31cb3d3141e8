"""Threads' error mapping as pure functions: a Graph-style error or a container status in,
a class and message out. One row per code Herald relies on (docs/platforms/threads.md)."""

from __future__ import annotations

import pytest

from herald.platforms.base import (
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from herald.platforms.graph import ContainerNotReady, NeedsNewContainer
from herald.platforms.threads.client import QuotaReading
from herald.platforms.threads.errors import (
    CONTAINER_ERRORS,
    container_failure,
    quota_used_up,
    threads_error,
)


@pytest.mark.parametrize(("error", "step", "cls", "words"), [
    # Server-side: retried on prepare/read, "maybe out" on the publishing call.
    ({"code": 1, "message": "An unknown error occurred"}, "prepare", TransientError,
     "Threads had an unknown API error"),
    ({"code": 2, "message": "Service temporarily unavailable", "is_transient": True},
     "commit", OutcomeUnknownError, "the post may or may not be out"),
    ({"code": -1}, "read", TransientError, "Threads had an internal error"),
    # Throttling: the account waits.
    ({"code": 4, "message": "Application request limit reached"}, "prepare",
     RateLimitedError, "Threads throttled the app"),
    ({"code": 17}, "read", RateLimitedError, "Threads throttled the user"),
    ({"code": 613}, "commit", RateLimitedError, "Threads throttled these calls"),
    # The publishing limit, when Meta refuses a publish over it.
    ({"code": 9, "error_subcode": 2207042}, "commit", RateLimitedError,
     "daily publishing limit"),
    # Tokens: reconnect.
    ({"code": 190, "error_subcode": 463}, "commit", NeedsReauthError,
     "Threads no longer accepts the account's access token: the token has expired"),
    ({"code": 190}, "read", NeedsReauthError, "Reconnect the account"),
    # Permissions: name the missing one.
    ({"code": 10, "message": "(#10) The user has not granted threads_content_publish"},
     "commit", PermanentError, "grant threads_content_publish"),
    ({"code": 200, "message": "Permissions error"}, "prepare", PermanentError,
     "grant threads_basic, threads_content_publish and threads_manage_replies"),
    # A bad value: Meta's words, shortened.
    ({"code": 100, "message": "(#100) Param text must be at most 500 characters long. Please "
      "read the Graph API documentation at https://developers.facebook.com/docs/graph-api"},
     "prepare", PermanentError, "Param text must be at most 500 characters long (code 100)"),
    ({"code": 100, "error_subcode": 33}, "read", TransientError, "does not exist yet"),
    # Not ready yet: poll again.
    ({"code": 9007, "error_subcode": 2207027}, "commit", ContainerNotReady,
     "has not finished processing"),
    # Content blocked: it is usually the post.
    ({"code": 368, "message": "The action attempted has been deemed abusive"}, "commit",
     PermanentError, "change the post and retry"),
    # Threads' own readings of Graph subcodes (what Postiz met on graph.threads.net).
    ({"code": 4, "error_subcode": 2207051}, "commit", PermanentError,
     "restricts this activity to protect its community"),
    ({"code": 10, "error_subcode": 4279013}, "prepare", PermanentError,
     "says this profile is restricted"),
])
def test_each_code_maps_to_its_class(error, step, cls, words):
    mapped = threads_error(error, step=step)
    assert type(mapped) is cls, mapped.message
    assert words in mapped.message
    assert mapped.message.startswith("Threads ")
    assert "Please read the Graph API documentation" not in mapped.message


@pytest.mark.parametrize("name", sorted(CONTAINER_ERRORS))
def test_each_container_error_message_is_said_in_words(name):
    failed = container_failure("ERROR", name)
    assert failed is not None
    fresh = name == "FAILED_DOWNLOADING_VIDEO"
    assert type(failed) is (NeedsNewContainer if fresh else PermanentError)
    assert failed.code == name and failed.message.count(name) == 1
    assert "None" not in failed.message


@pytest.mark.parametrize("said", ["UNKNOWN", "", "None"])
def test_an_unknown_container_error_says_what_to_check(said):
    failed = container_failure("ERROR", said)
    assert type(failed) is PermanentError
    assert failed.message.startswith("Threads could not process the media. Check that its "
                                     "URL is public")
    assert "None" not in failed.message and "UNKNOWN" not in failed.message


def test_expired_and_live_statuses():
    assert type(container_failure("EXPIRED", "")) is NeedsNewContainer
    for status in ("FINISHED", "IN_PROGRESS", "PUBLISHED", ""):
        assert container_failure(status, "") is None


def test_a_used_up_quota_says_when_a_slot_frees():
    exc = quota_used_up(QuotaReading(250, 250, 86400), 5400.0)
    assert type(exc) is RateLimitedError and exc.retry_after == 5400.0
    assert exc.message == ("Threads' publishing limit is used up (250 of 250 posts in 24 h); "
                           "a slot frees in about 1.5 h.")
    assert quota_used_up(QuotaReading(1, 1, 86400), 600.0).message.endswith("about 10 min.")
    assert exc.quota == {"usage": 250, "total": 250, "window_seconds": 86400}  # type: ignore[attr-defined]
