"""Mastodon's error answers mapped to Herald's hierarchy (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from herald.platforms.base import (
    NeedsReauthError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from herald.platforms.mastodon.errors import MediaNotReady, NotFound, mastodon_error

NOW = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)


def mapped(status: int, error: str, *, step="commit", headers=None):
    return mastodon_error(status, {"error": error}, step=step, headers=headers or {},
                          now=NOW)


def test_an_invalid_token_needs_reauth() -> None:
    exc = mapped(401, "The access token is invalid")
    assert isinstance(exc, NeedsReauthError) and "access token is invalid" in exc.message


def test_a_missing_scope_names_the_scopes_to_grant() -> None:
    exc = mapped(403, "This action is outside the authorized scopes")
    assert isinstance(exc, NeedsReauthError) and "write:statuses" in exc.message


def test_a_validation_failure_is_permanent_with_mastodons_reason() -> None:
    exc = mapped(422, "Validation failed: Text character limit of 500 exceeded")
    assert type(exc) is PermanentError
    assert exc.message.endswith("Validation failed: Text character limit of 500 exceeded")


def test_media_still_processing_is_waited_for_not_refused() -> None:
    exc = mapped(422, "Cannot attach files that have not finished processing. Try again in a "
                      "moment!")
    assert isinstance(exc, MediaNotReady) and isinstance(exc, TransientError)


def test_a_throttle_waits_until_x_ratelimit_reset() -> None:
    exc = mapped(429, "Too many requests",
                 headers={"x-ratelimit-reset": "2026-12-06T21:10:00.000Z"})
    assert isinstance(exc, RateLimitedError) and exc.retry_after == 600


def test_a_throttle_without_a_reset_waits_five_minutes() -> None:
    exc = mapped(429, "Too many requests")
    assert isinstance(exc, RateLimitedError) and exc.retry_after == 300


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_on_the_commit_may_have_posted(status: int) -> None:
    assert isinstance(mapped(status, "oops"), OutcomeUnknownError)
    read = mapped(status, "oops", step="read")
    assert isinstance(read, TransientError) and not isinstance(read, OutcomeUnknownError)


def test_not_found_is_its_own_refusal() -> None:
    assert isinstance(mapped(404, "Record not found", step="read"), NotFound)


def test_an_empty_body_still_says_the_status() -> None:
    exc = mastodon_error(418, {}, step="read", headers={}, now=NOW)
    assert type(exc) is PermanentError and "HTTP 418" in exc.message
