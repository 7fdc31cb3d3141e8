"""Threads' connect flow against MockTransport answers shaped like Meta's docs: code →
short-lived token → th_exchange_token → /me; and th_refresh_token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from herald.config import Settings
from herald.connect.base import ConnectError
from herald.platforms.base import NeedsReauthError
from herald.platforms.threads import oauth

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
APP = oauth.ThreadsApp("app-1", "app-secret", api_url="https://graph.threads.test")


def transport(answers: dict[str, httpx.Response], seen: list[httpx.Request]):
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[request.url.path]
    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def test_the_flow_needs_the_app_settings():
    assert oauth.flow(Settings(secret_key="k" * 32)) is None
    flow = oauth.flow(Settings(secret_key="k" * 32, threads_app_id="a",
                               threads_app_secret="s"))
    assert flow is not None and flow.name == "threads"
    url = urlsplit(flow.authorize("https://herald.test/cb", "st8"))
    assert (url.netloc, url.path) == ("threads.net", "/oauth/authorize")
    query = parse_qs(url.query)
    assert query["scope"] == ["threads_basic,threads_content_publish,threads_manage_replies"]
    assert query["state"] == ["st8"] and query["response_type"] == ["code"]


def test_a_cancelled_sign_in_is_said_in_words():
    assert oauth.callback_problem({"code": "abc"}) is None
    assert "cancelled" in oauth.callback_problem({"error": "access_denied",
                                                  "error_reason": "user_denied"})


async def test_the_code_becomes_a_long_lived_token_and_the_profile():
    seen: list[httpx.Request] = []
    client = transport({
        "/oauth/access_token": httpx.Response(200, json={"access_token": "SHORT",
                                                         "user_id": 2601}),
        "/access_token": httpx.Response(200, json={"access_token": "LONG",
                                                   "token_type": "bearer",
                                                   "expires_in": 5183944}),
        "/v1.0/me": httpx.Response(200, json={"id": "2601", "username": "acme",
                                              "name": "Acme"}),
    }, seen)
    offer = await oauth.fetch_offer(client, APP, code="CODE#_",
                                    redirect_uri="https://herald.test/cb", now=lambda: NOW)
    [candidate] = offer.candidates
    assert (candidate.platform, candidate.external_id, candidate.name) == (
        "threads", "2601", "Acme")
    assert candidate.access_token == "LONG"
    assert candidate.token_expires_at == NOW + timedelta(seconds=5183944)
    redeem = parse_qs(seen[0].content.decode())
    assert redeem["code"] == ["CODE"] and redeem["grant_type"] == ["authorization_code"]
    assert parse_qs(seen[1].url.query.decode())["grant_type"] == ["th_exchange_token"]
    assert seen[2].headers["authorization"] == "Bearer LONG"


async def test_a_refused_code_is_a_connect_error_without_the_secret():
    client = transport({"/oauth/access_token": httpx.Response(400, json={"error": {
        "message": "Invalid verification code format. app-secret", "code": 100}})}, [])
    with pytest.raises(ConnectError) as caught:
        await oauth.fetch_offer(client, APP, code="bad", redirect_uri="https://h/cb")
    assert "Invalid verification code" in caught.value.message
    assert "app-secret" not in caught.value.message


async def test_a_long_lived_token_is_renewed_and_an_expired_one_is_not():
    seen: list[httpx.Request] = []
    client = transport({"/refresh_access_token": httpx.Response(200, json={
        "access_token": "LONG2", "token_type": "bearer", "expires_in": 5183944})}, seen)
    renewed = await oauth.refresh_long_lived(client, api_url=APP.api_url, token="LONG",
                                             now=lambda: NOW)
    assert renewed.access_token == "LONG2" == renewed.refresh_token
    assert renewed.expires_at == NOW + timedelta(seconds=5183944)
    assert parse_qs(seen[0].url.query.decode())["grant_type"] == ["th_refresh_token"]
    refused = transport({"/refresh_access_token": httpx.Response(400, json={"error": {
        "message": "Error validating access token: Session has expired", "code": 190}})}, [])
    with pytest.raises(NeedsReauthError) as caught:
        await oauth.refresh_long_lived(refused, api_url=APP.api_url, token="LONG")
    assert "connect the account again" in caught.value.message
