"""What every Graph call shares: versions, tokens, the error envelope, usage headers."""

from __future__ import annotations

import json

import pytest

IG_USER = "17841400000000001"
PAGE = "100000000000001"

ENVELOPE_KEYS = {"message", "type", "code", "is_transient", "fbtrace_id"}


def error_of(response):
    error = response.json()["error"]
    assert set(error) >= ENVELOPE_KEYS
    return error["code"], error.get("error_subcode")


@pytest.fixture
def graph(server, make_client):
    return make_client(base_url=server.graph_url)


@pytest.mark.parametrize("version", ["v20.0", "v25.0", "v26.0", "v27.0"])
def test_any_major_version_is_accepted(ig, graph, version):
    response = graph.get(f"/{version}/{IG_USER}", params={"access_token": "ig-token"})
    assert response.status_code == 200
    assert response.json()["id"] == IG_USER


def test_malformed_version_is_an_unknown_path(ig, graph):
    response = graph.get(f"/v25.1/{IG_USER}", params={"access_token": "ig-token"})
    assert response.status_code == 400 and error_of(response) == (2500, None)


class TestTokenPlacement:
    def test_bearer_header(self, ig, graph):
        response = graph.get(f"/v25.0/{IG_USER}", headers={"Authorization": "Bearer ig-token"})
        assert response.status_code == 200

    def test_query(self, ig, graph):
        assert graph.get(f"/v25.0/{IG_USER}?access_token=ig-token").status_code == 200

    def test_form(self, ig, graph, image_url):
        response = graph.post(f"/v25.0/{IG_USER}/media",
                              data={"access_token": "ig-token", "image_url": image_url})
        assert response.status_code == 200

    def test_json(self, ig, graph, image_url):
        response = graph.post(f"/v25.0/{IG_USER}/media",
                              json={"access_token": "ig-token", "image_url": image_url})
        assert response.status_code == 200

    def test_multipart(self, ig, graph, image_url):
        response = graph.post(f"/v25.0/{IG_USER}/media",
                              data={"access_token": "ig-token", "image_url": image_url},
                              files={"unused": ("x.txt", b"x")})
        assert response.status_code == 200


class TestTokenErrors:
    def test_missing(self, ig, graph):
        response = graph.get(f"/v25.0/{IG_USER}")
        assert response.status_code == 400 and error_of(response) == (104, None)

    def test_unknown(self, ig, graph):
        response = graph.get(f"/v25.0/{IG_USER}", params={"access_token": "nope"})
        assert error_of(response) == (190, 467)
        assert response.json()["error"]["type"] == "OAuthException"

    def test_expired(self, ig, graph, state):
        state.expire_token("ig-token")
        response = graph.get(f"/v25.0/{IG_USER}", params={"access_token": "ig-token"})
        assert error_of(response) == (190, 463)
        assert "Session has expired" in response.json()["error"]["message"]

    def test_expires_with_the_fake_clock(self, server, graph, state):
        state.add_facebook_page(PAGE, "short-lived", token_expires_in=3600)
        url = f"/v25.0/{PAGE}"
        assert graph.get(url, params={"access_token": "short-lived"}).status_code == 200
        state.advance(3601)
        assert error_of(graph.get(url, params={"access_token": "short-lived"})) == (190, 463)

    @pytest.mark.parametrize("subcode", [460, 458, 492])
    def test_revoked(self, ig, graph, state, subcode):
        state.revoke_token("ig-token", subcode=subcode)
        response = graph.get(f"/v25.0/{IG_USER}", params={"access_token": "ig-token"})
        assert error_of(response) == (190, subcode)

    def test_token_of_another_account(self, ig, fb, graph):
        response = graph.get(f"/v25.0/{IG_USER}", params={"access_token": "page-token"})
        assert error_of(response) == (10, None)
        response = graph.post(f"/v25.0/{PAGE}/feed",
                              data={"access_token": "ig-token", "message": "x"})
        assert error_of(response) == (200, None)


def test_unknown_object_is_100_33(ig, graph):
    response = graph.get("/v25.0/123456", params={"access_token": "ig-token"})
    assert error_of(response) == (100, 33)
    assert response.json()["error"]["type"] == "GraphMethodException"


def test_unsupported_edge_is_100_33(ig, graph):
    response = graph.post(f"/v25.0/{IG_USER}/feed", params={"access_token": "ig-token"})
    assert error_of(response) == (100, 33)


def test_unknown_field_is_refused_like_graph(ig):
    response = ig.get(f"/{IG_USER}", fields="id,nonsense")
    assert error_of(response) == (100, None)
    assert "nonexisting field (nonsense)" in response.json()["error"]["message"]


def test_error_envelope_has_meta_fields(ig, server):
    response = ig.create(image_url=f"{server.url}/_fake/files/missing.jpg")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "error_subcode", "is_transient",
                          "error_user_title", "error_user_msg", "fbtrace_id"}
    assert error["is_transient"] is False


class TestUsage:
    def test_headers_reflect_configured_usage(self, ig, state):
        state.configure(app_usage_percent=28)
        state.set_usage(IG_USER, 95, regain_minutes=3)
        response = ig.get(f"/{IG_USER}")
        assert json.loads(response.headers["x-app-usage"]) == {
            "call_count": 28, "total_cputime": 28, "total_time": 28}
        assert json.loads(response.headers["x-business-use-case-usage"]) == {IG_USER: [{
            "type": "instagram", "call_count": 95, "total_cputime": 95, "total_time": 95,
            "estimated_time_to_regain_access": 3}]}

    def test_pages_usage_type(self, fb):
        usage = json.loads(fb.get(f"/{PAGE}").headers["x-business-use-case-usage"])
        assert usage[PAGE][0]["type"] == "pages"

    def test_full_usage_throttles_the_account(self, ig, fb, state):
        state.set_usage(IG_USER, 100, regain_minutes=5)
        state.set_usage(PAGE, 100)
        response = ig.get(f"/{IG_USER}")
        assert error_of(response) == (80002, None)
        assert response.json()["error"]["is_transient"] is True
        assert error_of(fb.post(f"/{PAGE}/feed", message="x")) == (80001, None)


def test_paging_with_cursors(ig, image_url):
    ids = [ig.publish(ig.container(image_url=image_url, caption=str(i))).json()["id"]
           for i in range(3)]
    first = ig.get(f"/{IG_USER}/media", limit=2).json()
    assert [m["id"] for m in first["data"]] == ids[:0:-1]
    rest = ig.http.get(first["paging"]["next"]).json()
    assert [m["id"] for m in rest["data"]] == ids[:1]
    assert "next" not in rest["paging"]


def test_me_accounts_lists_the_pages_of_a_token(fb, ig, state):
    state.add_instagram_account("17841400000000009", "page-token", page_id=PAGE)
    pages = fb.get("/me/accounts").json()["data"]
    assert [p["id"] for p in pages] == [PAGE]
    assert pages[0]["access_token"] == "page-token"
    linked = fb.get(f"/{PAGE}", fields="instagram_business_account").json()
    assert linked["instagram_business_account"]["id"] in (IG_USER, "17841400000000009")
