"""herald.logs: what the redaction of every log record removes, and what it leaves."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from herald import logs


@pytest.mark.parametrize(("text", "redacted"), [
    # httpx's INFO line for Facebook's code exchange as it was sent before the fix.
    ('HTTP Request: GET https://graph.facebook.com/v25.0/oauth/access_token?client_id=1'
     '&client_secret=S3CR3T&code=AQD "HTTP/1.1 200 OK"',
     'HTTP Request: GET https://graph.facebook.com/v25.0/oauth/access_token?client_id='
     '[redacted]&client_secret=[redacted]&code=[redacted] "HTTP/1.1 200 OK"'),
    # uvicorn's access log of the OAuth callback (a path, no host).
    ("/accounts/connect/facebook/callback?code=AQD-x_y&state=abc",
     "/accounts/connect/facebook/callback?code=[redacted]&state=[redacted]"),
    # A form body, JSON, a dict's repr, with spaces in a quoted value.
    ("grant_type=refresh_token&refresh_token=R1&client_secret=S2",
     "grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]"),
    ('{"access_token": "EAA1", "token_type": "bearer"}',
     '{"access_token": "[redacted]", "token_type": "bearer"}'),
    ("{'password': 'correct horse battery staple'}", "{'password': '[redacted]'}"),
    # Headers, as text and as httpcore's byte pairs.
    ("Authorization: Bearer abc.def-ghi", "Authorization: [redacted]"),
    ("(b'authorization', b'Basic dXNlcjpwYXNz')", "(b'authorization', b'[redacted]')"),
    ("sent with Bearer EAAxyz", "sent with Bearer [redacted]"),
    ("api token hld_0123456789abcdef", "api token hld_[redacted]"),
])
def test_secrets_are_redacted(text: str, redacted: str) -> None:
    assert logs.redact(text) == redacted
    assert logs.redact(redacted) == redacted  # twice is the same as once


@pytest.mark.parametrize("text", [
    "the token expires at noon", "error_code=190 status_code=400", '{"code": 190}',
    "TransientError('Could not reach LinkedIn.', code='network')",
    "What? yes=no", "https://graph.facebook.com/v25.0/me/accounts",
])
def test_what_is_no_secret_is_kept(text: str) -> None:
    assert logs.redact(text) == text


def test_known_secrets_are_redacted_wherever_they_appear() -> None:
    assert logs.redact("page token EAA42 refused", "EAA42", None, "") == \
        "page token [redacted] refused"


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def lines() -> Iterator[list[str]]:
    before = logging.getLogRecordFactory()
    logs.install()
    logs.install()  # idempotent: one layer of redaction, not two
    logger = logging.getLogger("tests.logs")
    handler, level, propagate = Lines(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
        logging.setLogRecordFactory(before)


def test_every_record_is_redacted_its_arguments_and_traceback_too(lines: list[str]) -> None:
    log = logging.getLogger("tests.logs")
    url = httpx.URL("https://graph.test/v25.0/me?access_token=EAA1")
    log.info("HTTP Request: %s %s %d", "GET", url, 200)  # httpx passes an httpx.URL
    log.info("%r", url)
    log.info("%s=%s", "code", "AQD")  # only the parts together spell it
    log.info("refresh_token=%s for %s", "R1R1", "acme")  # the key in the format string
    try:
        raise httpx.HTTPStatusError(f"Client error for url '{url}'",
                                    request=httpx.Request("GET", url),
                                    response=httpx.Response(400))
    except httpx.HTTPError:
        log.exception("failed with %s", "client_secret=S3")
    assert not any(secret in line for line in lines for secret in ("EAA1", "AQD", "R1R1", "S3"))
    assert lines[0] == "HTTP Request: GET https://graph.test/v25.0/me?access_token=[redacted] 200"
    assert lines[1] == "URL('https://graph.test/v25.0/me?access_token=[redacted]')"
    assert lines[2] == "code=[redacted]"
    assert lines[3] == "refresh_token=[redacted] for acme"
    assert "Traceback" in lines[4] and "HTTPStatusError" in lines[4]


def test_uvicorn_access_records_keep_their_arguments(lines: list[str]) -> None:
    from uvicorn.logging import AccessFormatter

    log = logging.getLogger("tests.logs")
    log.handlers[0].setFormatter(AccessFormatter('%(client_addr)s "%(request_line)s" '
                                                 "%(status_code)s", use_colors=False))
    log.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
             "/accounts/connect/linkedin/callback?code=AQT&state=s1", "1.1", 200)
    assert lines == ['127.0.0.1:5000 "GET /accounts/connect/linkedin/callback?code=[redacted]'
                     '&state=[redacted] HTTP/1.1" 200 OK']
