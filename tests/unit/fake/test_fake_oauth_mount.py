"""The OAuth flows with the fake mounted under /sandbox (as in Herald), and driven through
the /_fake admin API (as from another process)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from herald.platforms.fake import FakeServer, FakeState, create_fake_app

REDIRECT = "http://127.0.0.1:9/connect/callback"
PAGE, IG = "100000000000001", "17841400000000001"


def consent(client: httpx.Client, url: str, params: dict[str, str]) -> dict[str, str]:
    """Open the consent page, click Allow, return the redirect's query."""
    page = client.get(url, params=params)
    assert page.status_code == 200, page.text
    match = re.search(r'action="([^"]+)"', page.text)
    assert match
    assert unescape(match.group(1)) == url  # absolute, prefix included
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    answer = client.post(url, data={**{k: unescape(v) for k, v in fields.items()},
                                       "decision": "allow"})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT)
    return dict(parse_qsl(urlsplit(location).query))


@pytest.fixture(scope="module")
def mounted():
    state = FakeState()
    parent = FastAPI()
    parent.mount("/sandbox", create_fake_app(state, admin=False))
    with FakeServer(state, app=parent, prefix="/sandbox") as server:
        yield server


@pytest.fixture
def sandbox(mounted):
    mounted.state.reset()
    state = mounted.state
    state.add_oauth_app("facebook", "42", "fb-secret", [REDIRECT])
    state.add_facebook_user("7", "Sandy Box", pages=[(PAGE, "Sandbox Page", IG)])
    state.add_oauth_app("linkedin", "li-42", "li-secret", [REDIRECT])
    state.add_linkedin_user("sandy", "Sandy Box", organizations=[("1000001", "Sandbox Org")])
    return mounted


def test_facebook_under_a_prefix(sandbox):
    with httpx.Client(timeout=5) as client:
        dialog = f"{sandbox.facebook_url}/dialog/oauth"
        assert dialog.startswith(f"{sandbox.url}/facebook")
        query = consent(client, dialog, {"client_id": "42", "redirect_uri": REDIRECT,
                                         "state": "s"})
        graph = f"{sandbox.graph_url}/v25.0"
        token = client.get(f"{graph}/oauth/access_token", params={
            "client_id": "42", "client_secret": "fb-secret", "redirect_uri": REDIRECT,
            "code": query["code"]}).json()["access_token"]
        pages = client.get(f"{graph}/me/accounts", params={"access_token": token}).json()
        page_token = pages["data"][0]["access_token"]
        post = client.post(f"{graph}/{PAGE}/feed",
                           data={"message": "mounted", "access_token": page_token}).json()
        permalink = client.get(f"{graph}/{post['id']}", params={
            "fields": "permalink_url", "access_token": page_token}).json()["permalink_url"]
        assert permalink == f"{sandbox.url}/?id={post['id']}"


def test_linkedin_under_a_prefix(sandbox):
    with httpx.Client(timeout=5) as client:
        query = consent(client, f"{sandbox.linkedin_url}/oauth/v2/authorization", {
            "response_type": "code", "client_id": "li-42", "redirect_uri": REDIRECT,
            "scope": "openid profile w_member_social", "state": "s"})
        body = client.post(f"{sandbox.linkedin_url}/oauth/v2/accessToken", data={
            "grant_type": "authorization_code", "code": query["code"],
            "redirect_uri": REDIRECT, "client_id": "li-42", "client_secret": "li-secret"}
        ).json()
        info = client.get(f"{sandbox.linkedin_url}/v2/userinfo",
                          headers={"Authorization": f"Bearer {body['access_token']}"})
        assert info.json()["sub"] == "sandy"


def test_admin_api_sets_up_oauth(server, make_client, state):
    admin = make_client(base_url=f"{server.url}/_fake")
    assert admin.post("/oauth/apps", json={
        "platform": "facebook", "client_id": "42", "client_secret": "s",
        "redirect_uris": [REDIRECT], "name": "Herald"}).status_code == 201
    assert admin.post("/oauth/apps", json={
        "platform": "linkedin", "client_id": "li", "client_secret": "s",
        "redirect_uris": [REDIRECT]}).status_code == 201
    assert admin.post("/oauth/users", json={
        "platform": "facebook", "id": "7", "name": "Ann",
        "pages": [[PAGE, "Ann's Page", IG], ["100000000000002", "Plain", None]]}
    ).status_code == 201
    assert admin.post("/oauth/users", json={"platform": "facebook", "id": "8",
                                            "name": "Bob"}).status_code == 201
    assert admin.post("/oauth/users", json={
        "platform": "linkedin", "id": "ann", "name": "Ann Lee", "email": "ann@example.com",
        "organizations": [["1000001", "Org", "CONTENT_ADMIN"]]}).status_code == 201
    assert admin.post("/oauth/login", json={"platform": "facebook", "user": "8"}
                      ).status_code == 200
    assert admin.post("/oauth/login", json={"platform": "facebook", "user": "nobody"}
                      ).status_code == 400
    assert admin.post("/oauth/apps", json={
        "platform": "instagram", "client_id": "x", "client_secret": "s",
        "redirect_uris": [REDIRECT]}).status_code == 400

    summary = admin.get("/oauth").json()
    assert summary["logged_in"] == {"facebook": "8", "linkedin": "ann"}
    assert [a["client_id"] for a in summary["apps"]] == ["42", "li"]
    assert summary["linkedin_users"][0]["roles"] == [
        ["urn:li:organization:1000001", "CONTENT_ADMIN", "APPROVED"]]
    assert state.account(IG).page_id == PAGE

    web = make_client(base_url=server.url)
    answer = web.get("/facebook/dialog/oauth", params={
        "client_id": "42", "redirect_uri": REDIRECT, "auto": "1"})
    assert answer.status_code == 302 and "code=" in answer.headers["location"]

    # A refresh token can be expired through the admin API like any other token.
    answer = web.get("/linkedin/oauth/v2/authorization", params={
        "response_type": "code", "client_id": "li", "redirect_uri": REDIRECT,
        "scope": "openid", "auto": "1"})
    code = dict(parse_qsl(urlsplit(answer.headers["location"]).query))["code"]
    client = {"client_id": "li", "client_secret": "s"}
    refresh_token = web.post("/linkedin/oauth/v2/accessToken", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **client}
    ).json()["refresh_token"]
    assert admin.post("/tokens/expire", json={"token": refresh_token}).status_code == 200
    refreshed = web.post("/linkedin/oauth/v2/accessToken", data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, **client})
    assert refreshed.json()["error"] == "invalid_grant"

    assert admin.post("/reset").status_code == 200
    assert admin.get("/oauth").json() == {"apps": [], "facebook_users": [],
                                          "linkedin_users": [], "logged_in": {}}
