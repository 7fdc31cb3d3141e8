"""Facebook Login through the fake, over real HTTP: dialog → code → short-lived user token →
long-lived → Page tokens from /me/accounts → publishing on the Page and its Instagram."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

APP_ID = "1122334455"
SECRET = "app-secret"
REDIRECT = "https://herald.test/connect/facebook/callback"
USER = "10150000000000042"
PAGE = "100000000000001"
PAGE2 = "100000000000002"
IG = "17841400000000001"
SCOPES = "pages_show_list,pages_manage_posts,instagram_basic,instagram_content_publish"
DAY = 86_400


def form_of(page: str) -> tuple[str, dict[str, str]]:
    """The consent form's action and hidden fields."""
    match = re.search(r'<form method="post" action="([^"]+)">', page)
    assert match, page
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    return unescape(match.group(1)), {unescape(k): unescape(v) for k, v in fields}


def redirect_of(response) -> tuple[str, dict[str, str], str]:
    """Where a dialog answer redirects: the URI without its query, the query, the fragment."""
    assert response.status_code in (302, 303), response.text
    parts = urlsplit(response.headers["location"])
    return (f"{parts.scheme}://{parts.netloc}{parts.path}", dict(parse_qsl(parts.query)),
            parts.fragment)


def error_of(response):
    error = response.json()["error"]
    return error["code"], error.get("error_subcode")


@pytest.fixture
def login(state):
    state.add_oauth_app("facebook", APP_ID, SECRET, [REDIRECT], name="Herald")
    state.add_facebook_user(USER, "Fay Kuser",
                            pages=[(PAGE, "Herald Page", IG), (PAGE2, "Side Page", None)])


@pytest.fixture
def web(server, make_client):
    return make_client(base_url=server.facebook_url)


@pytest.fixture
def graph(server, make_client):
    return make_client(base_url=f"{server.graph_url}/v25.0")


def dialog_params(**extra: str) -> dict[str, str]:
    return {"client_id": APP_ID, "redirect_uri": REDIRECT, "state": "csrf-1",
            "scope": SCOPES, **extra}


def get_code(web, **extra: str) -> str:
    _, query, _ = redirect_of(web.get("/dialog/oauth", params=dialog_params(auto="1", **extra)))
    return query["code"]


def exchange(graph, code: str, **extra: str):
    return graph.get("/oauth/access_token", params={
        "client_id": APP_ID, "client_secret": SECRET, "redirect_uri": REDIRECT, "code": code,
        **extra})


def user_token(web, graph) -> str:
    response = exchange(graph, get_code(web))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def long_lived(graph, short: str):
    return graph.get("/oauth/access_token", params={
        "grant_type": "fb_exchange_token", "client_id": APP_ID, "client_secret": SECRET,
        "fb_exchange_token": short})


def page_tokens(graph, token: str) -> dict[str, dict]:
    response = graph.get("/me/accounts", params={
        "fields": "id,name,access_token,tasks,instagram_business_account",
        "access_token": token})
    assert response.status_code == 200, response.text
    return {p["id"]: p for p in response.json()["data"]}


def test_the_whole_flow(login, server, web, graph, state, image_url):
    page = web.get("/v25.0/dialog/oauth", params=dialog_params())
    assert page.status_code == 200
    assert "Fay Kuser" in page.text and "Herald Page (Instagram @fake_000001)" in page.text
    action, fields = form_of(page.text)
    assert action == f"{server.facebook_url}/dialog/oauth"
    uri, query, fragment = redirect_of(web.post(action, data={**fields, "decision": "allow"}))
    assert (uri, query["state"], fragment) == (REDIRECT, "csrf-1", "_=_")

    short = exchange(graph, query["code"]).json()
    assert short["token_type"] == "bearer" and short["expires_in"] == 3600
    long = long_lived(graph, short["access_token"]).json()
    assert long["expires_in"] == 5183944 and long["access_token"] != short["access_token"]
    token = long["access_token"]
    me = graph.get("/me", params={"fields": "id,name", "access_token": token}).json()
    assert me == {"id": USER, "name": "Fay Kuser"}

    pages = page_tokens(graph, token)
    assert set(pages) == {PAGE, PAGE2}
    assert pages[PAGE]["instagram_business_account"] == {"id": IG}
    assert "instagram_business_account" not in pages[PAGE2]
    assert "CREATE_CONTENT" in pages[PAGE]["tasks"]
    page_token = pages[PAGE]["access_token"]
    assert page_token not in (token, pages[PAGE2]["access_token"])
    assert page_tokens(graph, token)[PAGE]["access_token"] == page_token  # stable
    assert graph.get(f"/{PAGE}", params={"fields": "access_token", "access_token": token}
                     ).json() == {"access_token": page_token, "id": PAGE}

    post = graph.post(f"/{PAGE}/feed", data={"message": "Hi", "access_token": page_token})
    assert post.status_code == 200 and post.json()["id"].startswith(f"{PAGE}_")
    linked = graph.get(f"/{PAGE}", params={
        "fields": "instagram_business_account{id,username,name}", "access_token": page_token})
    assert linked.json()["instagram_business_account"] == {
        "id": IG, "username": "fake_000001", "name": "Herald Page on Instagram"}
    container = graph.post(f"/{IG}/media", data={"image_url": image_url, "caption": "IG",
                                                 "access_token": page_token})
    assert container.status_code == 200, container.text
    media = graph.post(f"/{IG}/media_publish", data={"creation_id": container.json()["id"],
                                                     "access_token": page_token})
    assert media.status_code == 200, media.text
    assert [(r.platform, r.account) for r in state.published()] == [
        ("facebook", PAGE), ("instagram", IG)]


def test_page_tokens_from_a_long_lived_token_never_expire(login, web, graph, state):
    token = long_lived(graph, user_token(web, graph)).json()["access_token"]
    page_token = page_tokens(graph, token)[PAGE]["access_token"]
    state.advance(90 * DAY)
    assert graph.get(f"/{PAGE}", params={"access_token": page_token}).status_code == 200
    assert error_of(graph.get("/me", params={"access_token": token})) == (190, 463)


def test_page_tokens_from_a_short_lived_token_last_an_hour(login, web, graph, state):
    page_token = page_tokens(graph, user_token(web, graph))[PAGE]["access_token"]
    assert graph.get(f"/{PAGE}", params={"access_token": page_token}).status_code == 200
    state.advance(3601)
    assert error_of(graph.get(f"/{PAGE}", params={"access_token": page_token})) == (190, 463)


def test_me_with_a_page_token_is_the_page(login, web, graph):
    page_token = page_tokens(graph, user_token(web, graph))[PAGE]["access_token"]
    assert graph.get("/me", params={"access_token": page_token}).json() == {
        "id": PAGE, "name": "Herald Page"}


def test_a_user_token_cannot_publish_as_the_page(login, web, graph):
    response = graph.post(f"/{PAGE}/feed", data={"message": "x",
                                                 "access_token": user_token(web, graph)})
    assert error_of(response) == (190, None)
    assert "Page Access Token" in response.json()["error"]["message"]


class TestDialog:
    def test_auto_approves(self, login, web):
        uri, query, _ = redirect_of(web.get("/dialog/oauth", params=dialog_params(auto="1")))
        assert uri == REDIRECT and query["state"] == "csrf-1" and query["code"]

    def test_config_switch_approves(self, login, web, state):
        state.configure(oauth_auto_approve=True)
        response = web.get("/dialog/oauth", params=dialog_params())
        assert response.status_code == 302 and "code" in redirect_of(response)[1]

    def test_cancel(self, login, web):
        action, fields = form_of(web.get("/dialog/oauth", params=dialog_params()).text)
        uri, query, _ = redirect_of(web.post(action, data={**fields, "decision": "deny"}))
        assert uri == REDIRECT
        assert query == {"error": "access_denied", "error_code": "200",
                         "error_description": "Permissions error",
                         "error_reason": "user_denied", "state": "csrf-1"}
        _, query, _ = redirect_of(web.get("/dialog/oauth", params=dialog_params(auto="deny")))
        assert query["error"] == "access_denied"

    @pytest.mark.parametrize("change", [
        {"client_id": "999"},
        {"redirect_uri": "https://evil.test/cb"},
        {"redirect_uri": f"{REDIRECT}?extra=1"},  # strict mode: exact match only
        {"response_type": "token"},
    ])
    def test_bad_requests_get_an_error_page_not_a_redirect(self, login, web, change):
        response = web.get("/dialog/oauth", params=dialog_params(auto="1", **change))
        assert response.status_code == 400 and "location" not in response.headers
        assert response.headers["content-type"].startswith("text/html")

    def test_no_user_logged_in(self, state, web):
        state.add_oauth_app("facebook", APP_ID, SECRET, [REDIRECT])
        response = web.get("/dialog/oauth", params=dialog_params())
        assert response.status_code == 400 and "add_facebook_user" in response.text

    def test_log_in_chooses_who_consents(self, login, web, graph, state):
        state.add_facebook_user("10150000000000099", "Other User")
        state.log_in("facebook", "10150000000000099")
        token = user_token(web, graph)
        assert graph.get("/me", params={"access_token": token}).json()["name"] == "Other User"
        assert page_tokens(graph, token) == {}


class TestCodeExchange:
    def test_a_code_is_single_use(self, login, web, graph):
        code = get_code(web)
        first = exchange(graph, code)
        assert first.status_code == 200
        again = exchange(graph, code)
        assert again.status_code == 400 and error_of(again) == (100, 36009)
        assert graph.get("/me", params={"access_token": first.json()["access_token"]}
                         ).status_code == 200

    def test_a_code_expires(self, login, web, graph, state):
        code = get_code(web)
        state.advance(601)
        assert error_of(exchange(graph, code)) == (100, 36007)

    def test_wrong_secret(self, login, web, graph):
        response = exchange(graph, get_code(web), client_secret="nope")
        assert error_of(response) == (1, None)
        assert response.json()["error"]["is_transient"] is False

    def test_unknown_app(self, login, web, graph):
        assert error_of(exchange(graph, get_code(web), client_id="999")) == (101, None)

    def test_redirect_uri_must_match_the_dialogs(self, login, web, graph):
        code = get_code(web)
        assert error_of(exchange(graph, code, redirect_uri=f"{REDIRECT}/other")) == (100, 36008)
        assert exchange(graph, code).status_code == 200  # the mismatch did not use it up

    def test_unknown_code(self, login, graph):
        assert error_of(exchange(graph, "AQnope")) == (100, None)

    def test_unversioned_post_form(self, login, web, server, make_client):
        graph = make_client(base_url=server.graph_url)
        response = graph.post("/oauth/access_token", data={
            "client_id": APP_ID, "client_secret": SECRET, "redirect_uri": REDIRECT,
            "code": get_code(web)})
        assert response.status_code == 200 and response.json()["token_type"] == "bearer"

    def test_injected_fault_leaves_the_code_usable(self, login, web, graph, state):
        code = get_code(web)
        state.add_fault("error", platform="facebook", endpoint="oauth", count=1)
        failed = exchange(graph, code)
        assert failed.status_code == 503 and failed.json()["error"]["is_transient"] is True
        assert exchange(graph, code).status_code == 200


class TestLongLived:
    def test_an_expired_short_token_cannot_be_exchanged(self, login, web, graph, state):
        short = user_token(web, graph)
        state.advance(3601)
        response = long_lived(graph, short)
        assert error_of(response) == (190, 463)
        assert "Session has expired" in response.json()["error"]["message"]

    def test_the_short_token_keeps_working_until_it_expires(self, login, web, graph):
        short = user_token(web, graph)
        assert long_lived(graph, short).status_code == 200
        assert graph.get("/me", params={"access_token": short}).status_code == 200

    def test_only_user_tokens_of_the_app_exchange(self, login, web, graph, state):
        page_token = page_tokens(graph, user_token(web, graph))[PAGE]["access_token"]
        assert error_of(long_lived(graph, page_token)) == (190, 467)
        assert error_of(long_lived(graph, "EAAnope")) == (190, 467)
        state.add_oauth_app("facebook", "777", "other", [REDIRECT])
        response = graph.get("/oauth/access_token", params={
            "grant_type": "fb_exchange_token", "client_id": "777", "client_secret": "other",
            "fb_exchange_token": user_token(web, graph)})
        assert error_of(response) == (190, 467)

    def test_revoked_token(self, login, web, graph, state):
        short = user_token(web, graph)
        state.revoke_token(short, subcode=458)
        assert error_of(long_lived(graph, short)) == (190, 458)
