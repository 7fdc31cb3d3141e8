"""The Herald-Signature header and Retry-After, as receivers and the sender read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from herald.events import signing
from herald.events.sender import MAX_RETRY_AFTER, parse_retry_after

BODY = b'{"id":"e1","type":"post.failed","created_at":"2026-12-03T10:00:00Z","data":{}}'
NOW = 1_764_756_000


def test_the_header_is_stripes_scheme_and_verifies():
    value = signing.header(["whsec_one"], NOW, BODY)
    assert value == f"t={NOW},v1=" + signing.signature("whsec_one", NOW, BODY)
    assert signing.verify("whsec_one", BODY, value, now=NOW + 10)


def test_a_changed_body_another_secret_or_an_old_timestamp_does_not_verify():
    value = signing.header(["whsec_one"], NOW, BODY)
    assert not signing.verify("whsec_one", BODY + b" ", value, now=NOW)
    assert not signing.verify("whsec_two", BODY, value, now=NOW)
    assert not signing.verify("whsec_one", BODY, value, now=NOW + 301)
    assert not signing.verify("whsec_one", BODY, "v1=abc", now=NOW)
    assert not signing.verify("whsec_one", BODY, "", now=NOW)


def test_after_a_rotation_either_secret_verifies():
    value = signing.header(["whsec_new", "whsec_old"], NOW, BODY)
    assert value.count("v1=") == 2
    assert signing.verify("whsec_new", BODY, value, now=NOW)
    assert signing.verify("whsec_old", BODY, value, now=NOW)


def test_new_secrets_are_long_and_random():
    a, b = signing.new_secret(), signing.new_secret()
    assert a != b and a.startswith("whsec_") and len(a) > 40


def test_retry_after_in_seconds_or_as_a_date_capped_at_an_hour():
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == now + timedelta(seconds=120)
    assert parse_retry_after("Thu, 03 Dec 2026 10:05:00 GMT", now=now) == \
        now + timedelta(minutes=5)
    assert parse_retry_after("999999", now=now) == now + timedelta(seconds=MAX_RETRY_AFTER)
    assert parse_retry_after("Thu, 03 Dec 2026 09:00:00 GMT", now=now) == now  # past
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None
