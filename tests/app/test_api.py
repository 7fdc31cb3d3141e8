from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from herald import services
from herald.models import Post, PostSchedule, utcnow
from tests.helpers import add_account, add_posts


def _future(minutes: int = 60) -> str:
    return (utcnow() + timedelta(minutes=minutes)).isoformat()


def _count_posts(herald) -> int:
    with herald.db.session() as s:
        return s.scalar(select(func.count()).select_from(Post))


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) <= {"code", "message", "details"}
    assert body["message"]
    return body["message"]


def _account(client, auth, **extra):
    body = {"platform": "facebook", "external_id": "page-1", "name": "Acme Page",
            "access_token": "EAAB-secret", **extra}
    response = client.post("/api/v1/accounts", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


def test_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert "/api/v1/posts" in client.get("/openapi.json").json()["paths"]


def test_docs_load_without_the_internet(client):
    """Swagger UI and ReDoc come from Herald itself: /docs is not blank offline."""
    import re

    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r"(?:src|href)=[\"']([^\"']+)[\"']", html)
        assert assets, html
        for url in assets:
            assert url.startswith("/"), f"{page} loads {url} from elsewhere"
            assert client.get(url).status_code == 200, url


# --- accounts ----------------------------------------------------------------------------


def test_account_tokens_go_in_but_never_come_out(client, auth, herald):
    account = _account(client, auth, refresh_token="refresh-secret",
                       token_expires_at="2030-01-01T00:00:00Z")
    for response in (client.get("/api/v1/accounts", headers=auth),
                     client.get(f"/api/v1/accounts/{account['id']}", headers=auth)):
        assert "EAAB-secret" not in response.text and "refresh-secret" not in response.text
    assert account["token_expires_at"].startswith("2030-01-01")
    # …and they are encrypted at rest.
    with herald.db.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT access_token_enc FROM social_tokens").scalar_one()
    assert "EAAB-secret" not in stored
    assert herald.cipher.decrypt(stored) == "EAAB-secret"


def test_account_token_update_reactivates_and_keeps_refresh_token(client, auth, herald):
    account = _account(client, auth, refresh_token="r1")
    response = client.put(f"/api/v1/accounts/{account['id']}/token",
                          json={"access_token": "new"}, headers=auth)
    assert response.status_code == 200
    with herald.db.session() as s:
        token = services.account_token(s, account["id"])
        assert herald.cipher.decrypt(token.refresh_token_enc) == "r1"
        assert herald.cipher.decrypt(token.access_token_enc) == "new"


@pytest.mark.all_engines
def test_duplicate_account_is_a_conflict(client, auth):
    _account(client, auth)
    response = client.post("/api/v1/accounts", headers=auth, json={
        "platform": "facebook", "external_id": "page-1", "name": "x", "access_token": "t"})
    assert "already has" in _error(response, 409)


@pytest.mark.all_engines
def test_delete_account_removes_it_and_its_posts(client, auth, herald, company):
    account = _account(client, auth)
    add_posts(herald, company[0], account["id"], 2, run_at=utcnow() + timedelta(hours=1))
    assert client.delete(f"/api/v1/accounts/{account['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/accounts/{account['id']}", headers=auth).status_code == 404
    assert _count_posts(herald) == 0


# --- posts -------------------------------------------------------------------------------


@pytest.mark.all_engines
def test_create_for_several_accounts_makes_one_post_each_in_one_group(
    client, auth, herald, image_url
):
    a = _account(client, auth)
    b = _account(client, auth, platform="linkedin", external_id="urn:li:person:1")
    response = client.post("/api/v1/posts", headers=auth, json={
        "account_ids": [a["id"], b["id"]], "caption": "Launch!", "run_at": _future(),
        "media": [{"url": image_url, "type": "image"}]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["items"]) == 2
    assert {p["group_id"] for p in body["items"]} == {body["group_id"]}
    assert {p["platform"] for p in body["items"]} == {"facebook", "linkedin"}
    assert all(p["status"] == "pending" for p in body["items"])
    with herald.db.session() as s:
        assert s.scalar(select(func.count()).select_from(PostSchedule)) == 2


def test_instagram_feed_story_is_two_posts(client, auth, image_url):
    ig = _account(client, auth, platform="instagram", external_id="1784")
    response = client.post("/api/v1/posts", headers=auth, json={
        "account_id": ig["id"], "post_type": "feed_story", "run_at": "now",
        "media": [{"url": image_url}]})
    assert response.status_code == 201, response.text
    assert sorted(p["post_type"] for p in response.json()["items"]) == ["feed", "story"]


@pytest.mark.all_engines
def test_run_at_now_and_offsets_are_stored_as_utc(client, auth):
    a = _account(client, auth)
    response = client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "caption": "x", "run_at": "2099-01-01T09:00:00+02:00"})
    assert response.json()["items"][0]["run_at"].startswith("2099-01-01T07:00:00")
    response = client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "caption": "x", "run_at": "now"})
    assert response.status_code == 201


def test_get_post_includes_attempts_and_next_attempt(client, auth):
    a = _account(client, auth)
    created = client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "caption": "x", "run_at": _future()}).json()["items"][0]
    detail = client.get(f"/api/v1/posts/{created['id']}", headers=auth).json()
    assert detail["attempt_log"] == []
    assert detail["next_attempt_at"] is not None


@pytest.mark.all_engines
def test_list_filters_and_cursor_pagination(client, auth, herald, company):
    a = _account(client, auth)
    b = _account(client, auth, platform="linkedin", external_id="urn:li:person:2")
    ids = add_posts(herald, company[0], a["id"], 7, run_at=utcnow() + timedelta(hours=1))
    add_posts(herald, company[0], b["id"], 3, run_at=utcnow() + timedelta(days=3))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, "platform": "facebook"} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/posts", params=params, headers=auth).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 7
    by_account = client.get("/api/v1/posts", params={"account_id": b["id"]}, headers=auth)
    assert len(by_account.json()["items"]) == 3
    window = client.get("/api/v1/posts", headers=auth, params={
        "from": (utcnow() + timedelta(days=2)).isoformat(),
        "to": (utcnow() + timedelta(days=4)).isoformat()})
    assert len(window.json()["items"]) == 3
    by_status = client.get("/api/v1/posts", params={"status": "pending,published"},
                           headers=auth)
    assert len(by_status.json()["items"]) == 10


@pytest.mark.all_engines
def test_patch_caption_and_reschedule_while_pending(client, auth, herald):
    a = _account(client, auth)
    post = client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "caption": "old", "run_at": _future()}).json()["items"][0]
    later = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    response = client.patch(f"/api/v1/posts/{post['id']}", headers=auth,
                            json={"caption": "new", "run_at": later.isoformat()})
    assert response.status_code == 200, response.text
    assert response.json()["caption"] == "new"
    with herald.db.session() as s:
        assert s.get(PostSchedule, post["id"]).run_at == later


@pytest.mark.all_engines
def test_cancel_then_it_is_not_due(client, auth, herald):
    a = _account(client, auth)
    post = client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "caption": "x", "run_at": "now"}).json()["items"][0]
    response = client.delete(f"/api/v1/posts/{post['id']}", headers=auth)
    assert response.json()["status"] == "cancelled"
    assert herald.queue().claim(worker_id="w", limit=10, now=utcnow()) == []


@pytest.mark.all_engines
def test_retry_puts_a_failed_post_back(client, auth, herald, company):
    from herald.queue import Outcome

    a = _account(client, auth)
    [pid] = add_posts(herald, company[0], a["id"])
    queue = herald.queue()
    [claim] = queue.claim(worker_id="w", limit=1, now=utcnow())
    queue.finish([Outcome(claim, "failed", error_message="nope")], now=utcnow())
    response = client.post(f"/api/v1/posts/{pid}/retry", headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending"
    assert [c.post_id for c in queue.claim(worker_id="w", limit=1, now=utcnow())] == [pid]


@pytest.mark.all_engines
def test_drafts_are_not_queued_until_scheduled(client, auth, herald):
    a = _account(client, auth)
    draft = client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "caption": "later", "draft": True}).json()["items"][0]
    assert draft["status"] == "draft"
    assert herald.queue().horizon().due is None
    response = client.post(f"/api/v1/posts/{draft['id']}/schedule", headers=auth,
                           json={"run_at": "now"})
    assert response.json()["status"] == "pending"
    assert herald.queue().horizon().due is not None


# --- bad input: a 4xx with a clear message, nothing stored --------------------------------


def test_invalid_json(client, auth, herald):
    response = client.post("/api/v1/posts", content=b'{"caption": ', headers={
        **auth, "content-type": "application/json"})
    assert "not valid JSON" in _error(response, 400)
    assert _count_posts(herald) == 0


def test_missing_and_unknown_fields(client, auth, herald):
    a = _account(client, auth)
    message = _error(client.post("/api/v1/posts", headers=auth, json={"caption": "x"}), 422)
    assert "account_id" in message
    message = _error(client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "run_at": "now", "colour": "red"}), 422)
    assert "unknown field 'colour'" in message
    assert _count_posts(herald) == 0


def test_naive_datetime_is_refused(client, auth, herald):
    a = _account(client, auth)
    message = _error(client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "run_at": "2099-01-01T09:00:00"}), 422)
    assert "no timezone" in message
    assert _count_posts(herald) == 0


def test_unparseable_run_at(client, auth):
    a = _account(client, auth)
    message = _error(client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "run_at": "tomorrow at nine"}), 422)
    assert "not an ISO 8601 time" in message


def test_run_at_in_the_past_is_refused(client, auth, herald):
    a = _account(client, auth)
    message = _error(client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "run_at": "2020-01-01T09:00:00Z"}), 422)
    assert "in the past" in message
    assert _count_posts(herald) == 0


def test_unknown_post_type(client, auth, herald):
    a = _account(client, auth)
    message = _error(client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "run_at": "now", "post_type": "hologram"}), 422)
    assert "post_type" in message and "feed" in message
    assert _count_posts(herald) == 0


def test_malformed_media_url(client, auth, herald):
    a = _account(client, auth)
    message = _error(client.post("/api/v1/posts", headers=auth, json={
        "account_id": a["id"], "run_at": "now", "media": [{"url": "javascript:alert(1)"}]}), 422)
    assert "not an http(s) URL" in message
    assert _count_posts(herald) == 0


def test_account_of_another_company_is_not_found(client, auth, herald):
    with herald.db.session() as s:
        other, _ = services.create_company(s, name="Other")
    foreign = add_account(herald, other.id)
    mine = _account(client, auth)
    response = client.post("/api/v1/posts", headers=auth, json={
        "account_ids": [mine["id"], foreign], "run_at": "now"})
    assert "No account" in _error(response, 404)
    assert _count_posts(herald) == 0
    assert client.get(f"/api/v1/accounts/{foreign}", headers=auth).status_code == 404


def test_post_of_another_company_is_not_found(client, auth, herald):
    with herald.db.session() as s:
        other, _ = services.create_company(s, name="Other")
    foreign_account = add_account(herald, other.id)
    [foreign_post] = add_posts(herald, other.id, foreign_account,
                               run_at=utcnow() + timedelta(hours=1))
    for method, path, body in (
        ("GET", f"/api/v1/posts/{foreign_post}", None),
        ("PATCH", f"/api/v1/posts/{foreign_post}", {"caption": "hijack"}),
        ("DELETE", f"/api/v1/posts/{foreign_post}", None),
        ("POST", f"/api/v1/posts/{foreign_post}/retry", None),
    ):
        response = client.request(method, path, json=body, headers=auth)
        _error(response, 404)
    with herald.db.session() as s:
        post = s.get(Post, foreign_post)
        assert (post.caption, post.status) == ("Hello", "pending")
    listed = client.get("/api/v1/posts", headers=auth).json()["items"]
    assert foreign_post not in [p["id"] for p in listed]


def test_no_token_wrong_token_and_revoked_token(client, herald, company):
    assert "Bearer" in _error(client.get("/api/v1/posts"), 401)
    assert "not valid" in _error(client.get(
        "/api/v1/posts", headers={"Authorization": "Bearer hld_wrong"}), 401)
    with herald.db.session() as s:
        services.revoke_api_token(s, token=company[1])
    response = client.get("/api/v1/posts", headers={"Authorization": f"Bearer {company[1]}"})
    assert "revoked" in _error(response, 401)
    response = client.post("/api/v1/posts", headers={
        "Authorization": f"Bearer {company[1]}"}, json={"account_id": "x", "run_at": "now"})
    _error(response, 401)
    assert _count_posts(herald) == 0


def test_cancel_of_a_published_post_is_a_conflict(client, auth, herald, company):
    from herald.queue import Outcome

    a = _account(client, auth)
    [pid] = add_posts(herald, company[0], a["id"])
    queue = herald.queue()
    [claim] = queue.claim(worker_id="w", limit=1, now=utcnow())
    queue.finish([Outcome(claim, "published", external_id="1_2")], now=utcnow())
    message = _error(client.delete(f"/api/v1/posts/{pid}", headers=auth), 409)
    assert "already published" in message
    with herald.db.session() as s:
        assert s.get(Post, pid).status == "published"


@pytest.mark.all_engines
def test_patch_of_a_processing_post_is_a_conflict(client, auth, herald, company):
    a = _account(client, auth)
    [pid] = add_posts(herald, company[0], a["id"])
    herald.queue().claim(worker_id="w", limit=1, now=utcnow())
    message = _error(client.patch(f"/api/v1/posts/{pid}", headers=auth,
                                  json={"caption": "too late"}), 409)
    assert "being published right now" in message
    with herald.db.session() as s:
        assert s.get(Post, pid).caption == "Hello"


@pytest.mark.all_engines
def test_cancel_while_a_worker_holds_the_post_is_a_request(client, auth, herald, company):
    a = _account(client, auth)
    [pid] = add_posts(herald, company[0], a["id"])
    herald.queue().claim(worker_id="w", limit=1, now=utcnow())
    response = client.delete(f"/api/v1/posts/{pid}", headers=auth)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "processing" and body["cancel_requested_at"]


def test_bad_cursor_and_bad_status_filter(client, auth):
    _error(client.get("/api/v1/posts", params={"cursor": "garbage!"}, headers=auth), 422)
    assert "unknown status" in _error(
        client.get("/api/v1/posts", params={"status": "sent"}, headers=auth), 422)


def test_unknown_route_is_json_404(client):
    assert client.get("/api/v1/nothing").json()["error"]["code"] == "not_found"
