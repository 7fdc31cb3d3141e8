"""LinkedIn token refresh: before expiry, once per account across workers, never dropping
the refresh token."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from herald import services
from herald.models import SocialToken, utcnow
from herald.platforms.base import AccountRef, NeedsReauthError, PublishJob
from herald.tokens import TokenRefresher
from tests.helpers import add_account

TOKEN_URL = "https://linkedin.test/oauth/v2/accessToken"


def token_endpoint(calls: list[dict[str, str]], *, body: dict | None = None, status=200,
                   delay: float = 0.0):
    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(dict(httpx.QueryParams(request.content.decode())))
        await asyncio.sleep(delay)
        answer = body if body is not None else {
            "access_token": f"fresh-{len(calls)}", "expires_in": 5184000}
        return httpx.Response(status, json=answer)
    return httpx.MockTransport(handler)


def refresher(herald, transport, **kw) -> TokenRefresher:
    return TokenRefresher(herald.db.engine, herald.cipher, httpx.AsyncClient(transport=transport),
                          token_url=TOKEN_URL, client_id="app", client_secret="app-secret",
                          ahead=timedelta(days=7), **kw)


def linkedin_account(herald, company_id, *, expires_in: timedelta) -> tuple[str, PublishJob]:
    account_id = add_account(herald, company_id, "linkedin", "urn:li:person:1",
                             refresh_token="refresh-1",
                             token_expires_at=utcnow() + expires_in)
    ref = AccountRef(id=account_id, platform="linkedin", external_id="urn:li:person:1",
                     name="Me", access_token="secret-token-urn:li:person:1",
                     refresh_token="refresh-1", token_expires_at=utcnow() + expires_in)
    job = PublishJob(post_id="p", attempt=1, platform="linkedin", post_type="text",
                     caption="x", media=(), account=ref, run_at=utcnow())
    return account_id, job


def stored(herald, account_id) -> tuple[str, str | None]:
    with herald.db.session() as s:
        row = s.get(SocialToken, account_id)
        return (herald.cipher.decrypt(row.access_token_enc),
                herald.cipher.decrypt(row.refresh_token_enc) if row.refresh_token_enc else None)


async def test_a_token_near_expiry_is_refreshed_and_the_refresh_token_kept(herald, company):
    account_id, job = linkedin_account(herald, company[0], expires_in=timedelta(days=2))
    calls: list[dict[str, str]] = []
    fresh = await refresher(herald, token_endpoint(calls)).fresh(job)
    assert fresh.account.access_token == "fresh-1"
    assert calls == [{"grant_type": "refresh_token", "refresh_token": "refresh-1",
                      "client_id": "app", "client_secret": "app-secret"}]
    # The answer had no refresh_token: the old one stays, never an empty one.
    assert stored(herald, account_id) == ("fresh-1", "refresh-1")


async def test_a_token_far_from_expiry_is_left_alone(herald, company):
    _, job = linkedin_account(herald, company[0], expires_in=timedelta(days=30))
    calls: list[dict[str, str]] = []
    assert await refresher(herald, token_endpoint(calls)).fresh(job) is job
    assert calls == []


@pytest.mark.all_engines
async def test_two_workers_refresh_an_account_once(herald, company):
    account_id, job = linkedin_account(herald, company[0], expires_in=timedelta(hours=1))
    calls: list[dict[str, str]] = []
    transport = token_endpoint(calls, delay=0.3)
    assert stored(herald, account_id)[0] == job.account.access_token
    first, second = refresher(herald, transport), refresher(herald, transport)
    a, b = await asyncio.gather(first.fresh(job), second.fresh(job))
    assert len(calls) == 1
    assert a.account.access_token == b.account.access_token == "fresh-1"


async def test_a_refused_refresh_needs_reauth(herald, company):
    _, job = linkedin_account(herald, company[0], expires_in=timedelta(hours=1))
    calls: list[dict[str, str]] = []
    transport = token_endpoint(calls, status=400, body={
        "error": "invalid_grant", "error_description": "The refresh token has expired"})
    with pytest.raises(NeedsReauthError) as err:
        await refresher(herald, transport).fresh(job)
    assert "refresh-1" not in str(err.value) and "app-secret" not in str(err.value)


async def test_a_new_refresh_token_replaces_the_old(herald, company):
    account_id, job = linkedin_account(herald, company[0], expires_in=timedelta(hours=1))
    calls: list[dict[str, str]] = []
    transport = token_endpoint(calls, body={"access_token": "a2", "expires_in": 100,
                                            "refresh_token": "refresh-2",
                                            "refresh_token_expires_in": 3600})
    await refresher(herald, transport).fresh(job)
    assert stored(herald, account_id) == ("a2", "refresh-2")
    assert len(calls) == 1
    with herald.db.session() as s:
        account = services.get_account(s, herald.context(company[0]), account_id)
        assert account.state == "active"
