"""LinkedIn text escaping (Little Text Format) and token refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from herald.platforms.base import NeedsReauthError, PermanentError, TransientError
from herald.platforms.linkedin.client import refresh_access_token
from herald.platforms.linkedin.ltf import escape_commentary, render_commentary

NOW = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(("raw", "escaped"), [
    ("Launch day (v2)!", r"Launch day \(v2\)!"),
    (r"a\b|c{d}e@f[g]h(i)j<k>l*m_n~o", r"a\\b\|c\{d\}e\@f\[g\]h\(i\)j\<k\>l\*m\_n\~o"),
    ("#Herald starts. Go #Launch2026!", "#Herald starts. Go #Launch2026!"),
    ("C# and # alone, #1 and (#x)", r"C\# and \# alone, \#1 and \(\#x\)"),
    ("#snake_case", r"#snake\_case"),
    ("Hi @[Acme](urn:li:organization:123) and @[Eve](urn:li:person:a-B_1) :)",
     "Hi @[Acme](urn:li:organization:123) and @[Eve](urn:li:person:a-B_1) :\\)"),
    ("mail me @ x_y", r"mail me \@ x\_y"),
    ("", ""),
])
def test_little_text_format_escaping(raw, escaped):
    assert escape_commentary(raw) == escaped
    # What LinkedIn (and the sandbox page) shows is what was written.
    assert render_commentary(escaped) == raw


TOKEN_URL = "https://www.linkedin.test/oauth/v2/accessToken"


async def refresh(api, reply, refresh_token="R-old-secret"):
    api.on("POST", "/oauth/v2/accessToken", reply)
    return await refresh_access_token(api.client(), token_url=TOKEN_URL, client_id="cid",
                                      client_secret="csecret", refresh_token=refresh_token,
                                      now=lambda: NOW)


@pytest.mark.parametrize("body", [
    {"access_token": "A-new", "expires_in": 5184000},
    {"access_token": "A-new", "expires_in": 5184000, "refresh_token": ""},
    {"access_token": "A-new", "expires_in": 5184000, "refresh_token": None},
])
async def test_refresh_never_drops_the_refresh_token(api, body):
    tokens = await refresh(api, body)
    assert tokens.refresh_token == "R-old-secret"
    assert tokens.access_token == "A-new"
    assert tokens.expires_at == NOW + timedelta(days=60)
    form = api.requests[0].content.decode()
    assert "grant_type=refresh_token" in form and "refresh_token=R-old-secret" in form


async def test_refresh_takes_a_new_refresh_token_and_hides_tokens_in_repr(api):
    tokens = await refresh(api, {"access_token": "A-new", "expires_in": 60,
                                 "refresh_token": "R-new", "refresh_token_expires_in": 120})
    assert tokens.refresh_token == "R-new"
    assert tokens.refresh_token_expires_at == NOW + timedelta(seconds=120)
    assert "A-new" not in repr(tokens) and "R-new" not in repr(tokens)


@pytest.mark.parametrize(("reply", "cls"), [
    (httpx.Response(400, json={"error": "invalid_grant",
                               "error_description": "token R-old-secret expired"}),
     NeedsReauthError),
    (httpx.Response(401, json={"error": "invalid_client", "error_description": "bad"}),
     PermanentError),
    (httpx.Response(503, text="busy"), TransientError),
    (httpx.ConnectTimeout("slow"), TransientError),
])
async def test_refresh_errors(api, reply, cls):
    with pytest.raises(cls) as caught:
        await refresh(api, reply)
    assert type(caught.value) is cls
    assert "R-old-secret" not in str(caught.value) and "csecret" not in str(caught.value)
