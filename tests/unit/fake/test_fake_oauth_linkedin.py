"""LinkedIn OAuth through the fake, over real HTTP: authorization → code → tokens →
userinfo → organizationAcls → posting as member and organization → refresh."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

CLIENT = "78abcdefgh"
SECRET = "li-secret"
REDIRECT = "https://herald.test/connect/linkedin/callback"
MEMBER_ID = "Xy12abCD"
MEMBER = f"urn:li:person:{MEMBER_ID}"
ORG = "urn:li:organization:1000001"
ANALYST_ORG = "urn:li:organization:1000002"
SCOPES = "openid profile email w_member_social w_organization_social r_organization_admin"
VERSION = "202609"
DAY = 86_400


def form_of(page: str) -> tuple[str, dict[str, str]]:
    match = re.search(r'<form method="post" action="([^"]+)">', page)
    assert match, page
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    return unescape(match.group(1)), {unescape(k): unescape(v) for k, v in fields}


def redirect_of(response) -> tuple[str, dict[str, str]]:
    assert response.status_code in (302, 303), response.text
    parts = urlsplit(response.headers["location"])
    return f"{parts.scheme}://{parts.netloc}{parts.path}", dict(parse_qsl(parts.query))


@pytest.fixture
def member(state):
    state.add_oauth_app("linkedin", CLIENT, SECRET, [REDIRECT], name="Herald")
    state.add_linkedin_user(MEMBER_ID, "Lin Kedin", email="lin@example.com", organizations=[
        ("1000001", "Herald Inc"), (ANALYST_ORG, "Numbers Co", "ANALYST")])


@pytest.fixture
def web(server, make_client):
    """Plays the browser and Herald's backend: www.linkedin.com paths."""
    return make_client(base_url=server.linkedin_url)


@pytest.fixture
def api(server, make_client):
    """api.linkedin.com with a token: api(token).get(...)."""

    def client(token: str):
        return make_client(base_url=server.linkedin_url, headers={
            "Authorization": f"Bearer {token}", "LinkedIn-Version": VERSION,
            "X-Restli-Protocol-Version": "2.0.0"})

    return client


def authorize_params(**extra: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT,
            "state": "csrf-9", "scope": SCOPES, **extra}


def get_code(web, **extra: str) -> str:
    _, query = redirect_of(web.get("/oauth/v2/authorization",
                                   params=authorize_params(auto="1", **extra)))
    return query["code"]


def token_call(web, **form: str):
    return web.post("/oauth/v2/accessToken",
                    data={"client_id": CLIENT, "client_secret": SECRET, **form})


def exchange(web, code: str, **extra: str):
    return token_call(web, **{"grant_type": "authorization_code", "code": code,
                              "redirect_uri": REDIRECT, **extra})


def tokens(web, **extra: str) -> dict:
    response = exchange(web, get_code(web, **extra))
    assert response.status_code == 200, response.text
    return response.json()


def refresh(web, refresh_token: str, **extra: str):
    return token_call(web, grant_type="refresh_token", refresh_token=refresh_token, **extra)


def post_as(client, author: str, text: str):
    return client.post("/rest/posts", json={
        "author": author, "commentary": text, "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                         "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False})


def test_the_whole_flow(member, server, web, api, state):
    page = web.get("/oauth/v2/authorization", params=authorize_params())
    assert page.status_code == 200
    assert "Lin Kedin" in page.text and "Herald Inc (ADMINISTRATOR)" in page.text
    action, fields = form_of(page.text)
    assert action == f"{server.linkedin_url}/oauth/v2/authorization"
    uri, query = redirect_of(web.post(action, data={**fields, "decision": "allow"}))
    assert uri == REDIRECT and query["state"] == "csrf-9"

    body = exchange(web, query["code"]).json()
    assert set(body) == {"access_token", "expires_in", "refresh_token",
                         "refresh_token_expires_in", "scope", "token_type"}
    assert (body["expires_in"], body["refresh_token_expires_in"]) == (5184000, 31536000)
    assert body["scope"] == ("email,openid,profile,r_organization_admin,w_member_social,"
                             "w_organization_social")
    li = api(body["access_token"])

    info = li.get("/v2/userinfo").json()
    assert info == {"sub": MEMBER_ID, "name": "Lin Kedin", "given_name": "Lin",
                    "family_name": "Kedin", "locale": {"country": "US", "language": "en"},
                    "email": "lin@example.com", "email_verified": True}
    author = f"urn:li:person:{info['sub']}"

    acls = li.get("/rest/organizationAcls", params={
        "q": "roleAssignee", "role": "ADMINISTRATOR", "state": "APPROVED"}).json()
    assert acls["elements"] == [{"roleAssignee": MEMBER, "state": "APPROVED",
                                 "role": "ADMINISTRATOR", "organization": ORG}]
    every = li.get("/rest/organizationAcls", params={"q": "roleAssignee"}).json()
    assert [e["role"] for e in every["elements"]] == ["ADMINISTRATOR", "ANALYST"]
    assert every["paging"]["total"] == 2
    org = li.get("/rest/organizations/1000001").json()
    assert (org["id"], org["localizedName"]) == (1000001, "Herald Inc")

    as_member = post_as(li, author, "From me")
    as_org = post_as(li, ORG, "From us")
    assert (as_member.status_code, as_org.status_code) == (201, 201), as_org.text
    assert post_as(li, ANALYST_ORG, "Not allowed").status_code == 403
    assert [(r.account, r.caption) for r in state.published()] == [
        (MEMBER, "From me"), (ORG, "From us")]


class TestRefresh:
    def test_refresh_keeps_the_refresh_tokens_ttl(self, member, web, api, state):
        first = tokens(web)
        state.advance(59 * DAY)
        response = refresh(web, first["refresh_token"])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["access_token"] != first["access_token"]
        assert body["expires_in"] == 5184000
        assert body["refresh_token"] == first["refresh_token"]
        assert abs(body["refresh_token_expires_in"] - (365 - 59) * DAY) <= 1

        # Both access tokens work until the first one reaches its own 60 days.
        old, new = api(first["access_token"]), api(body["access_token"])
        assert post_as(new, MEMBER, "new token").status_code == 201
        assert post_as(old, MEMBER, "old token").status_code == 201
        state.advance(2 * DAY)
        expired = post_as(old, MEMBER, "too late")
        assert expired.status_code == 401 and expired.json()["serviceErrorCode"] == 65602
        assert post_as(new, MEMBER, "still fine").status_code == 201

    def test_no_access_token_outlives_the_refresh_token(self, member, web, state):
        first = tokens(web)
        state.advance(360 * DAY)
        body = refresh(web, first["refresh_token"]).json()
        assert abs(body["expires_in"] - 5 * DAY) <= 1
        assert abs(body["refresh_token_expires_in"] - 5 * DAY) <= 1

    def test_the_response_may_omit_the_refresh_token(self, member, web, state):
        first = tokens(web)
        state.configure(li_refresh_omits_token=True)
        body = refresh(web, first["refresh_token"]).json()
        assert "refresh_token" not in body and "refresh_token_expires_in" not in body
        assert body["access_token"]
        # The refresh token that was not repeated is still the one to use.
        assert refresh(web, first["refresh_token"]).status_code == 200

    def test_invalid_refresh_tokens_are_invalid_grant(self, member, web, state):
        response = refresh(web, "AQXnope")
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
        first = tokens(web)
        state.revoke_token(first["refresh_token"])
        assert refresh(web, first["refresh_token"]).json()["error"] == "invalid_grant"
        second = tokens(web)
        state.advance(366 * DAY)
        assert refresh(web, second["refresh_token"]).json()["error"] == "invalid_grant"

    def test_wrong_client_is_invalid_client(self, member, web):
        response = refresh(web, tokens(web)["refresh_token"], client_secret="nope")
        assert response.status_code == 401
        assert response.json() == {"error": "invalid_client",
                                   "error_description": "Client authentication failed"}

    def test_apps_without_refresh_tokens(self, state, web):
        state.add_oauth_app("linkedin", CLIENT, SECRET, [REDIRECT], refresh_tokens=False)
        state.add_linkedin_user(MEMBER_ID, "Lin Kedin")
        body = tokens(web)
        assert "refresh_token" not in body and body["expires_in"] == 5184000

    def test_injected_fault_on_the_token_endpoint(self, member, web, state):
        first = tokens(web)
        state.add_fault("error", platform="linkedin", endpoint="oauth", count=1)
        assert refresh(web, first["refresh_token"]).status_code == 500
        assert refresh(web, first["refresh_token"]).status_code == 200


class TestCodeExchange:
    def test_a_code_is_single_use(self, member, web):
        code = get_code(web)
        assert exchange(web, code).status_code == 200
        again = exchange(web, code)
        assert again.status_code == 400 and again.json()["error"] == "invalid_request"
        assert "authorization code" in again.json()["error_description"]

    def test_redirect_uri_must_match(self, member, web):
        response = exchange(web, get_code(web), redirect_uri=f"{REDIRECT}/other")
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"

    def test_a_code_expires(self, member, web, state):
        code = get_code(web)
        state.advance(1801)
        assert exchange(web, code).json()["error"] == "invalid_request"

    def test_missing_parameter(self, member, web):
        response = token_call(web, grant_type="authorization_code", redirect_uri=REDIRECT)
        assert response.json() == {"error": "invalid_request",
                                   "error_description": 'A required parameter "code" is missing'}

    def test_unsupported_grant(self, member, web):
        response = token_call(web, grant_type="password")
        assert response.status_code == 400
        assert response.json()["error"] == "unsupported_grant_type"


class TestDialog:
    def test_cancel(self, member, web):
        action, fields = form_of(web.get("/oauth/v2/authorization",
                                         params=authorize_params()).text)
        uri, query = redirect_of(web.post(action, data={**fields, "decision": "deny"}))
        assert uri == REDIRECT
        assert query == {"error": "user_cancelled_authorize",
                         "error_description": "The user cancelled the authorization",
                         "state": "csrf-9"}

    def test_query_parameters_of_the_redirect_uri_are_ignored_when_matching(self, member, web):
        response = web.get("/oauth/v2/authorization",
                           params=authorize_params(auto="1", redirect_uri=f"{REDIRECT}?from=ui"))
        location = response.headers["location"]
        assert location.startswith(f"{REDIRECT}?from=ui&code=")
        code = dict(parse_qsl(urlsplit(location).query))["code"]
        assert exchange(web, code, redirect_uri=f"{REDIRECT}?from=ui").status_code == 200

    @pytest.mark.parametrize("change", [
        {"client_id": "unknown"},
        {"redirect_uri": "https://evil.test/cb"},
        {"response_type": "token"},
        {"scope": ""},
    ])
    def test_bad_requests_get_an_error_page(self, member, web, change):
        response = web.get("/oauth/v2/authorization",
                           params=authorize_params(auto="1", **change))
        assert response.status_code == 400 and "location" not in response.headers


class TestScopes:
    def test_without_organization_scope_the_member_posts_only_as_themselves(
            self, member, web, api):
        li = api(tokens(web, scope="openid profile w_member_social")["access_token"])
        assert post_as(li, MEMBER, "me").status_code == 201
        assert post_as(li, ORG, "us").status_code == 403
        assert li.get("/rest/organizationAcls", params={"q": "roleAssignee"}
                      ).status_code == 403

    def test_userinfo_needs_openid_and_email_needs_email(self, member, web, api):
        li = api(tokens(web, scope="openid profile w_member_social")["access_token"])
        assert "email" not in li.get("/v2/userinfo").json()
        li = api(tokens(web, scope="w_member_social")["access_token"])
        response = li.get("/v2/userinfo")
        assert response.status_code == 403 and response.json()["code"] == "ACCESS_DENIED"


def test_tokens_registered_directly_also_answer_userinfo_and_acls(li):
    """The `li` fixture's token (added with add_linkedin_member/organization) has no scopes."""
    assert li.http.get("/v2/userinfo").json()["sub"] == "abc123"
    acls = li.http.get("/rest/organizationAcls", params={"q": "roleAssignee"}).json()
    assert [e["organization"] for e in acls["elements"]] == [li.org]


def test_unknown_organization(member, web, api):
    li = api(tokens(web)["access_token"])
    assert li.get("/rest/organizations/999").status_code == 404
    assert li.get("/rest/organizations/abc").status_code == 400
