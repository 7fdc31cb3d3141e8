"""herald.connect against a MockTransport: what the fake does not exercise (paging, roles,
odd answers)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from herald.connect import ConnectError
from herald.platforms.facebook import oauth as fb
from herald.platforms.facebook.oauth import FacebookApp
from herald.platforms.linkedin import oauth as li
from herald.platforms.linkedin.oauth import LinkedInApp

Handler = Callable[[httpx.Request], httpx.Response]
FB_APP = FacebookApp("app", "app-secret", "https://graph.test/v25.0",
                     "https://www.fb.test/v25.0/dialog/oauth")
LI_APP = LinkedInApp("client", "client-secret", "https://www.li.test/oauth/v2/authorization",
                     "https://www.li.test/oauth/v2/accessToken", "https://api.li.test", "202609")
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def graph(pages: list[list[dict[str, Any]]], seen: list[httpx.Request]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/oauth/access_token"):
            grant = form_of(request).get("grant_type")
            return httpx.Response(200, json={"access_token": "LONG" if grant else "SHORT"})
        index = int(request.url.params.get("after", "0"))
        body: dict[str, Any] = {"data": pages[index]}
        if index + 1 < len(pages):
            body["paging"] = {"next": f"https://graph.test/v25.0/me/accounts?after={index + 1}"}
        return httpx.Response(200, json=body)

    return handle


async def test_facebook_follows_paging_skips_pages_it_cannot_post_to_and_dedupes() -> None:
    seen: list[httpx.Request] = []
    pages = [
        [{"id": "1", "name": "One", "access_token": "P1", "tasks": ["CREATE_CONTENT"],
          "instagram_business_account": {"id": "17", "username": "one"}}],
        [{"id": "2", "name": "Viewer", "access_token": "P2", "tasks": ["ANALYZE"]},
         {"id": "3", "name": "Three", "access_token": "P3",
          "instagram_business_account": {"id": "17", "username": "one"}}],
    ]
    async with client(graph(pages, seen)) as http:
        offer = await fb.fetch_offer(http, FB_APP, code="CODE", redirect_uri="https://h/cb")
    assert [(c.key, c.access_token) for c in offer.candidates] == [
        ("facebook:1", "P1"), ("instagram:17", "P1"), ("facebook:3", "P3")]
    assert offer.notes == ("Your role on the Page Viewer does not allow creating content, so "
                           "it is not offered.",)
    # The long-lived token asks for the Pages, in a header, on every page of the list.
    listing = [r for r in seen if r.url.path.endswith("/me/accounts")]
    assert len(listing) == 2
    assert all(r.headers["authorization"] == "Bearer LONG" for r in listing)
    assert all("access_token" not in r.url.params for r in listing)
    # The secret, the code and the short-lived token travel in POST forms, never in a URL
    # (URLs are logged, by httpx among others).
    exchanges = [r for r in seen if r.url.path.endswith("/oauth/access_token")]
    assert [(r.method, str(r.url)) for r in exchanges] == [
        ("POST", "https://graph.test/v25.0/oauth/access_token")] * 2
    assert form_of(exchanges[0]) == {"client_id": "app", "client_secret": "app-secret",
                                     "redirect_uri": "https://h/cb", "code": "CODE"}
    assert form_of(exchanges[1]) == {"grant_type": "fb_exchange_token", "client_id": "app",
                                     "client_secret": "app-secret",
                                     "fb_exchange_token": "SHORT"}


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


async def test_facebook_error_bodies_become_one_message_without_secrets() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/access_token"):
            return httpx.Response(200, json={"access_token": "TOKEN"})
        return httpx.Response(403, json={"error": {
            "message": "(#200) Missing pages_show_list for TOKEN", "code": 200,
            "type": "OAuthException"}})

    async with client(handle) as http:
        with pytest.raises(ConnectError) as caught:
            await fb.fetch_offer(http, FB_APP, code="CODE", redirect_uri="https://h/cb")
    assert caught.value.message == (
        "Facebook refused the list of your Pages: (#200) Missing pages_show_list for "
        "[secret] Nothing was connected. A permission was not granted; connect again and "
        "allow every one asked for.")


async def test_facebook_unreachable_and_not_json() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with client(down) as http:
        with pytest.raises(ConnectError, match="could not reach Facebook"):
            await fb.fetch_offer(http, FB_APP, code="C", redirect_uri="https://h/cb")
    async with client(lambda r: httpx.Response(502, text="<html>Bad gateway</html>")) as http:
        with pytest.raises(ConnectError, match=r"refused the sign-in \(HTTP 502\)"):
            await fb.fetch_offer(http, FB_APP, code="C", redirect_uri="https://h/cb")


def linkedin(acls: list[dict[str, Any]], *, scope: str, refresh: bool = True) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/accessToken"):
            body: dict[str, Any] = {"access_token": "AT", "expires_in": 5184000, "scope": scope}
            if refresh:
                body.update(refresh_token="RT", refresh_token_expires_in=31536000)
            return httpx.Response(200, json=body)
        assert request.headers["authorization"] == "Bearer AT"
        if path == "/v2/userinfo":
            return httpx.Response(200, json={"sub": "m1", "name": "Mem Ber"})
        if path == "/rest/organizationAcls":
            assert request.headers["linkedin-version"] == "202609"
            start, count = int(request.url.params["start"]), int(request.url.params["count"])
            return httpx.Response(200, json={"elements": acls[start:start + 2],
                                             "paging": {"start": start, "count": count,
                                                        "total": len(acls)}})
        org_id = path.rsplit("/", 1)[1]
        if org_id == "404":
            return httpx.Response(404, json={"status": 404, "message": "Not found"})
        return httpx.Response(200, json={"localizedName": f"Org {org_id}"})

    return handle


async def test_linkedin_member_and_organizations_with_expiries(monkeypatch) -> None:
    monkeypatch.setattr(li, "ACL_PAGE", 2)
    acls = [{"organization": f"urn:li:organization:{n}", "role": role, "state": "APPROVED"}
            for n, role in ((1, "ADMINISTRATOR"), (2, "ANALYST"), (3, "CONTENT_ADMIN"),
                            (404, "ADMINISTRATOR"), (1, "CONTENT_ADMIN"))]
    scope = "openid,profile,w_member_social,r_organization_admin,w_organization_social"
    async with client(linkedin(acls, scope=scope)) as http:
        offer = await li.fetch_offer(http, LI_APP, code="C", redirect_uri="https://h/cb",
                                     now=lambda: NOW)
    assert [(c.external_id, c.name) for c in offer.candidates] == [
        ("urn:li:person:m1", "Mem Ber"), ("urn:li:organization:1", "Org 1"),
        ("urn:li:organization:3", "Org 3"), ("urn:li:organization:404", "Organization 404")]
    member = offer.candidates[0]
    assert (member.access_token, member.refresh_token) == ("AT", "RT")
    assert member.token_expires_at == NOW + timedelta(days=60)
    assert member.refresh_token_expires_at == NOW + timedelta(days=365)
    assert offer.notes == ("1 organization where your role cannot post (administrators, "
                           "content admins and sponsored-content posters can) is not offered.",)


async def test_linkedin_offers_only_what_the_scopes_allow() -> None:
    acls = [{"organization": "urn:li:organization:1", "role": "ADMINISTRATOR"}]
    async with client(linkedin(acls, scope="openid,profile,r_organization_admin",
                               refresh=False)) as http:
        offer = await li.fetch_offer(http, LI_APP, code="C", redirect_uri="https://h/cb")
    assert offer.candidates == ()
    assert len(offer.notes) == 3 and "refresh token" in offer.notes[2]


async def test_linkedin_token_errors_hide_the_code_and_secret() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_request",
                                         "error_description": "bad code SECRETCODE"})

    async with client(handle) as http:
        with pytest.raises(ConnectError) as caught:
            await li.fetch_offer(http, LI_APP, code="SECRETCODE", redirect_uri="https://h/cb")
    assert "SECRETCODE" not in caught.value.message
    assert caught.value.message.startswith("LinkedIn refused the sign-in: bad code [secret].")


def test_callback_problems_in_words() -> None:
    assert fb.callback_problem({"code": "x", "state": "s"}) is None
    assert "cancelled" in (fb.callback_problem({"error": "access_denied",
                                                "error_reason": "user_denied"}) or "")
    assert fb.callback_problem({"error": "server_error", "error_description": "Oops"}) == (
        "Facebook Login did not finish (Oops), so nothing was connected.")
    assert fb.callback_problem({}) == (
        "Facebook Login did not finish (no authorization code), so nothing was connected.")
    assert "cancelled" in (li.callback_problem({"error": "user_cancelled_login"}) or "")
    assert li.callback_problem({"code": "x"}) is None
