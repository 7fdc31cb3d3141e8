"""LinkedIn's error mapping as a pure function: an error answer in, a class and message out."""

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
from herald.platforms.linkedin.errors import DuplicatePostError, linkedin_error, refresh_error

NOW = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
PERSON, ORG = "urn:li:person:abc", "urn:li:organization:123"


def mapped(status, body=None, *, step="commit", author=PERSON, now=NOW):
    return linkedin_error(status, dict(body or {}), step=step, author=author, version="202609",
                          now=now)


def test_a_server_error_on_the_commit_may_have_posted_elsewhere_it_is_retried():
    unknown = mapped(502, {"message": "boom"})
    assert type(unknown) is OutcomeUnknownError
    assert unknown.message == ("LinkedIn had a server error (HTTP 502) during the publishing "
                               "call; the post may or may not be out.")
    blip = mapped(500, {"message": "boom"}, step="prepare")
    assert type(blip) is TransientError
    assert blip.message == "LinkedIn had a server error: boom (code 500)."
    assert blip.retry_after is None


@pytest.mark.parametrize(("service_code", "why"), [
    (65600, "the token is invalid"), (65601, "the token was revoked by the user"),
    (65602, "the token has expired"), (None, "refused: Unauthorized")])
def test_401_needs_the_account_reconnected_and_says_why(service_code, why):
    body = {"message": "Unauthorized", "serviceErrorCode": service_code}
    exc = mapped(401, body)
    assert type(exc) is NeedsReauthError
    label = f"401/{service_code}" if service_code else "401"
    assert exc.code == label
    assert exc.message == (f"LinkedIn no longer accepts the account's access token: {why}. "
                           f"Reconnect the account (code {label}).")


@pytest.mark.parametrize(("author", "step", "grant"), [
    (PERSON, "commit", "w_member_social"),
    (ORG, "read", "r_organization_social"),
    (ORG, "commit", "w_organization_social; the member must be the organization's "
                    "ADMINISTRATOR, CONTENT_ADMIN or DIRECT_SPONSORED_CONTENT_POSTER"),
])
def test_403_names_the_permission_to_grant(author, step, grant):
    exc = mapped(403, {"message": "Not enough permissions"}, author=author, step=step)
    assert type(exc) is PermanentError
    assert exc.message == ("LinkedIn refused the call: the account lacks a permission (Not "
                           f"enough permissions). Reconnect it granting {grant} (code 403).")


def test_426_names_the_version_and_the_setting():
    exc = mapped(426, {"message": "Requested version 202609 is not active",
                       "code": "NONEXISTENT_VERSION"})
    assert type(exc) is PermanentError
    assert exc.code == "426/NONEXISTENT_VERSION"
    assert exc.message == (
        "LinkedIn no longer serves API version 202609 (Requested version 202609 is not "
        "active). Set HERALD_LINKEDIN_VERSION to a current version (YYYYMM) and restart "
        "Herald (code 426/NONEXISTENT_VERSION).")


def test_429_daily_limits_wait_past_midnight_utc_others_at_most_15_minutes():
    daily = mapped(429, {"message": "APPLICATION DAY limit reached.", "serviceErrorCode": 101})
    assert type(daily) is RateLimitedError
    assert daily.retry_after == 2 * 3600 + 60  # NOW is 22:00 UTC
    assert daily.message == ("LinkedIn throttled the account: APPLICATION DAY limit reached. "
                             "It waits about 121 min (code 429/101).")
    assert mapped(429, {"message": "Too many"}).retry_after == 900
    late = datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC)
    assert mapped(429, {"message": "Too many"}, now=late).retry_after == 90  # never past midnight


def test_422_duplicate_names_the_original_post_when_linkedin_does():
    inputs = {"inputErrors": [{"code": "DUPLICATE_POST", "description": "dup"}]}
    dup = mapped(422, {"message": "Content is a duplicate of urn:li:share:7141", "errorDetails":
                       inputs})
    assert type(dup) is DuplicatePostError
    assert dup.original_urn == "urn:li:share:7141"
    assert dup.code == "422/DUPLICATE_POST"
    assert dup.message == ("LinkedIn refused the post as a duplicate of an earlier one: Content "
                           "is a duplicate of urn:li:share:7141 (code 422/DUPLICATE_POST).")
    unnamed = mapped(422, {"message": "Duplicate", "errorDetails": inputs})
    assert type(unnamed) is DuplicatePostError and unnamed.original_urn is None


@pytest.mark.parametrize("status", [404, 409])
def test_not_found_on_a_read_is_lag_elsewhere_a_refusal(status):
    lag = mapped(status, {"message": "Not found"}, step="read")
    assert type(lag) is TransientError
    assert lag.retry_after == 30
    assert lag.message == f"LinkedIn could not find it yet: Not found (code {status})."
    assert type(mapped(status, {"message": "Not found"}, step="prepare")) is PermanentError


def test_other_refusals_quote_linkedin_and_its_input_errors():
    body = {"message": "Invalid", "errorDetails": {"inputErrors": [
        {"description": "Commentary too long", "code": "INVALID_LENGTH"},
        {"description": "Bad visibility"}, {"code": "NO_DESCRIPTION"}, "not an object"]}}
    exc = mapped(422, body)
    assert type(exc) is PermanentError
    assert exc.code == "422/INVALID_LENGTH"  # the first input error's code labels it
    assert exc.message == ("LinkedIn refused the post: Invalid (Commentary too long; Bad "
                           "visibility) (code 422/INVALID_LENGTH).")
    bare = mapped(400)
    assert bare.message == "LinkedIn refused the post: HTTP 400 (code 400)."


def test_the_label_prefers_service_error_code_then_code():
    assert mapped(400, {"serviceErrorCode": 100, "code": "X"}).code == "400/100"
    assert mapped(400, {"code": "X"}).code == "400/X"


@pytest.mark.parametrize(("status", "body", "cls", "message", "code"), [
    (503, {"error": "temporarily_unavailable"}, TransientError,
     "LinkedIn could not refresh the token now: temporarily_unavailable.", "refresh/503"),
    (429, {}, TransientError, "LinkedIn could not refresh the token now: HTTP 429.",
     "refresh/429"),
    (401, {"error": "invalid_client", "error_description": "Client S3CRET unknown"},
     PermanentError, "LinkedIn refused Herald's client id or secret: Client [secret] unknown.",
     "refresh/invalid_client"),
    (400, {"error": "invalid_grant", "error_description": "token R-old expired"},
     NeedsReauthError, "LinkedIn refused to refresh the token: token [secret] expired. "
                       "Reconnect the account.", "refresh/invalid_grant"),
    (200, {"expires_in": 60}, NeedsReauthError,
     "LinkedIn refused to refresh the token: HTTP 200. Reconnect the account.", "refresh/200"),
])
def test_refresh_answers_map_and_never_echo_a_secret(status, body, cls, message, code):
    exc = refresh_error(status, body, secrets=("R-old", "S3CRET"))
    assert type(exc) is cls
    assert (exc.message, exc.code) == (message, code)


def test_a_refresh_answer_with_a_token_is_no_error():
    assert refresh_error(200, {"access_token": "A-new"}, secrets=("R", "S")) is None
