"""Which errors say the platform could not be reached (PublishError.unreachable): what a
retry spends none of its attempt count on, and what counts towards a platform being down."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from herald.platforms.facebook.errors import facebook_error
from herald.platforms.http import transport_error
from herald.platforms.linkedin.errors import linkedin_error, refresh_error

REQUEST = httpx.Request("POST", "https://graph.test/v25.0/1/feed")
NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused", request=REQUEST),
                                 httpx.ReadTimeout("slow", request=REQUEST),
                                 httpx.ReadError("dropped", request=REQUEST)])
@pytest.mark.parametrize("commit", [True, False])
def test_transport_failures_are_unreachable(exc, commit):
    assert transport_error(exc, platform="Facebook", commit=commit).unreachable


@pytest.mark.parametrize("step", ["read", "prepare", "commit"])
def test_server_errors_are_unreachable(step):
    assert facebook_error({"code": 2, "message": "Service unavailable"}, step=step,
                          status=503).unreachable
    assert linkedin_error(503, {}, step=step, author="urn:li:person:a", version="202609",
                          now=NOW).unreachable


def test_refusals_and_throttles_are_not():
    assert not facebook_error({"code": 100, "message": "Invalid"}, step="commit").unreachable
    assert not facebook_error({"code": 4, "message": "Too many calls"}, step="read",
                              status=429).unreachable
    assert not linkedin_error(422, {"message": "bad"}, step="commit",
                              author="urn:li:person:a", version="202609",
                              now=NOW).unreachable


def test_a_token_endpoint_5xx_is_unreachable_a_429_is_not():
    down = refresh_error(503, {}, secrets=())
    slow = refresh_error(429, {}, secrets=())
    assert down is not None and down.unreachable
    assert slow is not None and not slow.unreachable
