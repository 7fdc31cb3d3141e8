"""The API as a new user meets it (issue 17, the first hour): the list's order, a filter it
does not know, a sandbox post where no sandbox runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fastapi.testclient import TestClient

from herald.app import create_app
from herald.models import utcnow
from herald.sandbox import Sandbox
from tests.helpers import add_account, add_posts


def _times(herald, company, hours):
    account = add_account(herald, company[0])
    base = utcnow() + timedelta(days=1)
    ids = {}
    for h in hours:  # made in this order, scheduled in another
        [ids[h]] = add_posts(herald, company[0], account, run_at=base + timedelta(hours=h),
                             caption=f"at {h}")
    return ids


def test_sort_by_time_pages_through_latest_first(herald, company, client, auth):
    ids = _times(herald, company, [3, 1, 4, 2, 5])
    seen, cursor = [], None
    while True:
        params = {"sort": "time", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/posts", params=params, headers=auth).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [ids[h] for h in (5, 4, 3, 2, 1)]
    by_creation = client.get("/api/v1/posts", headers=auth).json()["items"]
    assert [p["id"] for p in by_creation] == [ids[h] for h in (5, 2, 4, 1, 3)]


def test_a_cursor_of_one_order_is_refused_by_the_other(herald, company, client, auth):
    _times(herald, company, [1, 2, 3])
    page = client.get("/api/v1/posts", params={"limit": 1}, headers=auth).json()
    response = client.get("/api/v1/posts", params={"sort": "time",
                                                   "cursor": page["next_cursor"]}, headers=auth)
    assert response.status_code == 422
    assert "cursor is not valid" in response.json()["error"]["message"]


def test_unknown_sort_or_platform_is_422_not_an_empty_list(client, auth):
    response = client.get("/api/v1/posts", params={"platform": "myspace"}, headers=auth)
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "platform" in message and "'linkedin'" in message, message
    assert client.get("/api/v1/posts", params={"sort": "random"},
                      headers=auth).status_code == 422
    assert client.get("/api/v1/posts", params={"platform": "linkedin"},
                      headers=auth).status_code == 200


def test_a_sandbox_post_is_refused_when_scheduled_where_no_sandbox_runs(herald, company,
                                                                        auth):
    with TestClient(create_app(replace(herald, sandbox=Sandbox()))) as run_api:
        account = run_api.post("/api/v1/accounts", headers=auth, json={
            "platform": "facebook", "name": "Sandbox Page", "sandbox": True}).json()
    body = {"account_ids": [account["id"]], "caption": "hi", "post_type": "text",
            "run_at": "now"}
    # `herald serve` (no sandbox): refused now, not failed later by a worker.
    with TestClient(create_app(herald)) as serve_api:
        refused = serve_api.post("/api/v1/posts", headers=auth, json=body)
        assert refused.status_code == 422, refused.text
        assert "sandbox runs only under `herald run`" in refused.json()["error"]["message"]
        draft = serve_api.post("/api/v1/posts", headers=auth, json={**body, "draft": True})
        assert draft.status_code == 201, draft.text
        schedule = serve_api.post(f"/api/v1/posts/{draft.json()['items'][0]['id']}/schedule",
                                  headers=auth, json={"run_at": "now"})
        assert schedule.status_code == 422, schedule.text
    with TestClient(create_app(replace(herald, sandbox=Sandbox()))) as run_api:
        assert run_api.post("/api/v1/posts", headers=auth, json=body).status_code == 201


def test_messages_say_each_thing_once(herald, company, client, auth):
    account = add_account(herald, company[0])
    body = {"account_ids": [account], "caption": "x"}
    for run_at, said in [("tomorrow", "run_at 'tomorrow' is not an ISO 8601 time"),
                         ("2026-01-01T00:00:00", "run_at '2026-01-01T00:00:00' has no "
                                                 "timezone")]:
        message = client.post("/api/v1/posts", headers=auth,
                              json={**body, "run_at": run_at}).json()["error"]["message"]
        assert message.startswith(said) and message.count("run_at") == 1, message
    upload = client.post("/api/v1/media", headers=auth,
                         files={"file": ("fake.jpg", b"not an image", "image/jpeg")})
    message = upload.json()["error"]["message"]
    assert upload.status_code == 422 and message.count("fake.jpg") == 1, message
    assert message.startswith("'fake.jpg' is not an image or video we recognise")


def test_sizes_under_a_megabyte_read_in_kilobytes():
    from herald.validation import mb

    assert (mb(50_000), mb(75_000), mb(999), mb(4_500_000)) == ("50 KB", "75 KB",
                                                                "999 bytes", "4.5 MB")


def test_linkedin_is_spelled_as_linkedin_spells_it(herald, company, client, auth):
    from herald.queue import Outcome

    account = add_account(herald, company[0], "linkedin", "urn:li:person:abc")
    [pid] = add_posts(herald, company[0], account, post_type="text")
    queue = herald.queue()
    [claim] = queue.claim(worker_id="w", limit=1, now=utcnow())
    queue.finish([Outcome(claim, "published", external_id="urn:li:share:1")], now=utcnow())
    message = client.delete(f"/api/v1/posts/{pid}", headers=auth).json()["error"]["message"]
    assert "Delete it on LinkedIn" in message and "Linkedin" not in message
