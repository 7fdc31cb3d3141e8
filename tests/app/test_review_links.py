"""Client review links: made through the API, opened without an account, used to approve
or reject; expired, revoked, tampered and cross-post uses refused; every use audited."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from herald import services
from herald.models import Post, ReviewLink, utcnow
from herald.permissions import Role
from tests.app.web.conftest import build_app, csrf_of
from tests.helpers import add_account

LATER = "2030-01-01T09:00:00Z"


@pytest.fixture
def web_client(herald):
    from fastapi.testclient import TestClient

    with TestClient(build_app(herald), follow_redirects=False) as client:
        yield client


@pytest.fixture
def setup(client, herald, company) -> dict[str, Any]:
    account_id = add_account(herald, company[0])
    owner = {"Authorization": f"Bearer {company[1]}"}
    answer = client.patch(f"/api/v1/accounts/{account_id}", headers=owner,
                          json={"requires_approval": True})
    assert answer.status_code == 200, answer.text
    with herald.db.session() as session:
        made = services.create_api_token(session, company_id=company[0], name="c",
                                         role=Role.CONTRIBUTOR)
    return {"account_id": account_id, "owner": owner,
            "contributor": {"Authorization": f"Bearer {made}"}}


def _submit(client, setup, caption="For the client", **extra) -> dict[str, Any]:
    answer = client.post("/api/v1/posts", headers=setup["contributor"], json={
        "account_id": setup["account_id"], "caption": caption, "post_type": "text",
        "run_at": LATER, **extra})
    assert answer.status_code == 201, answer.text
    post: dict[str, Any] = answer.json()["items"][0]
    assert post["status"] == "awaiting_approval"
    return post


def _link(client, setup, **body) -> dict[str, Any]:
    answer = client.post("/api/v1/review-links", headers=setup["owner"], json=body)
    assert answer.status_code == 201, answer.text
    link: dict[str, Any] = answer.json()
    return link


def _path(link: dict[str, Any]) -> str:
    return "/review/" + link["url"].rsplit("/review/", 1)[1]


def _status(herald, post_id: str) -> str:
    with herald.db.session() as session:
        post = session.get(Post, post_id)
        assert post is not None
        return post.status


def _audit(client, setup, **filters) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/audit", headers=setup["owner"], params=filters)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _act(web, path: str, post_id: str, action: str, **form) -> Any:
    token = csrf_of(web.get(path).text)
    return web.post(f"{path}/posts/{post_id}/{action}", data={"csrf_token": token, **form})


def test_a_link_shows_its_post_as_a_preview_to_a_client_without_an_account(
        client, web_client, herald, setup):
    post = _submit(client, setup, caption="Opening hours #news https://example.com")
    link = _link(client, setup, post_ids=[post["id"]])
    assert set(link) >= {"id", "url", "expires_at", "state"} and link["state"] == "active"
    page = web_client.get(_path(link))
    assert page.status_code == 200
    assert 'class="pv-hashtag">#news' in page.text and "Opening hours" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    opened = _audit(client, setup, action="review_link.opened")
    assert [e["actor"] for e in opened] == [f"review link {link['id']}"]
    web_client.get(_path(link))  # the same visit: not logged again
    assert len(_audit(client, setup, action="review_link.opened")) == 1
    created = _audit(client, setup, action="review_link.created")
    assert created[0]["post_id"] == post["id"] and created[0]["after"]["link_id"] == link["id"]


def test_only_the_hash_of_the_secret_is_stored(client, herald, setup):
    post = _submit(client, setup)
    link = _link(client, setup, post_ids=[post["id"]])
    secret = link["url"].rsplit("/", 1)[1]
    with herald.db.session() as session:
        row = session.get(ReviewLink, link["id"])
        assert row is not None and secret not in row.token_hash and len(row.token_hash) == 64


def test_a_client_approves_through_the_link_as_the_link_with_their_name(
        client, web_client, herald, setup):
    post = _submit(client, setup)
    link = _link(client, setup, post_ids=[post["id"]])
    answer = _act(web_client, _path(link), post["id"], "approve", name="  Ann   Client ",
                  revision=str(post["revision"]))
    assert answer.status_code == 303
    assert _status(herald, post["id"]) == "pending"
    approved = _audit(client, setup, action="post.approved")
    assert approved[0]["actor"] == f"review link {link['id']} (Ann Client)"
    assert "Approved" in web_client.get(answer.headers["location"]).text


def test_a_client_rejects_with_a_reason_and_the_post_goes_back_to_draft(
        client, web_client, herald, setup):
    post = _submit(client, setup)
    link = _link(client, setup, post_ids=[post["id"]])
    _act(web_client, _path(link), post["id"], "reject", name="Ann", reason="Wrong date")
    with herald.db.session() as session:
        row = session.get(Post, post["id"])
        assert row is not None and row.status == "draft" and row.review_note == "Wrong date"
    assert _audit(client, setup, action="post.rejected")[0]["actor"].endswith("(Ann)")


@pytest.mark.parametrize("form", [{"name": "", "reason": "x"}, {"name": "Ann", "reason": " "},
                                  {"name": "A" * 41, "reason": "x"}],
                         ids=["no name", "no reason", "name too long"])
def test_a_rejection_without_a_name_or_a_reason_changes_nothing(
        client, web_client, herald, setup, form):
    post = _submit(client, setup)
    link = _link(client, setup, post_ids=[post["id"]])
    answer = _act(web_client, _path(link), post["id"], "reject", **form)
    assert answer.status_code == 303
    assert _status(herald, post["id"]) == "awaiting_approval"
    assert 'flash-error' in web_client.get(answer.headers["location"]).text


def test_an_approval_of_an_older_revision_is_refused(client, web_client, herald, setup):
    post = _submit(client, setup)
    link = _link(client, setup, post_ids=[post["id"]])
    edited = client.patch(f"/api/v1/posts/{post['id']}", headers=setup["owner"],
                          json={"caption": "Changed after the client looked"})
    assert edited.status_code == 200, edited.text
    _act(web_client, _path(link), post["id"], "approve", name="Ann",
         revision=str(post["revision"]))
    assert _status(herald, post["id"]) == "awaiting_approval"


def test_a_link_used_after_it_expired_shows_nothing_and_acts_on_nothing(
        client, web_client, herald, setup):
    post = _submit(client, setup)
    link = _link(client, setup, post_ids=[post["id"]])
    token = csrf_of(web_client.get(_path(link)).text)
    with herald.unit_of_work() as session:
        session.execute(update(ReviewLink).where(ReviewLink.id == link["id"])
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    page = web_client.get(_path(link))
    assert page.status_code == 410 and "expired" in page.text
    answer = web_client.post(f"{_path(link)}/posts/{post['id']}/approve",
                             data={"csrf_token": token, "name": "Ann"})
    assert answer.status_code == 410
    assert _status(herald, post["id"]) == "awaiting_approval"
    listed = client.get("/api/v1/review-links", headers=setup["owner"]).json()["items"]
    assert listed[0]["state"] == "expired"


def test_a_revoked_link_stops_working_at_once(client, web_client, herald, setup):
    post = _submit(client, setup)
    link = _link(client, setup, post_ids=[post["id"]])
    token = csrf_of(web_client.get(_path(link)).text)
    gone = client.delete(f"/api/v1/review-links/{link['id']}", headers=setup["owner"])
    assert gone.status_code == 204
    assert web_client.get(_path(link)).status_code == 410
    answer = web_client.post(f"{_path(link)}/posts/{post['id']}/reject",
                             data={"csrf_token": token, "name": "Ann", "reason": "No"})
    assert answer.status_code == 410 and _status(herald, post["id"]) == "awaiting_approval"
    revoked = _audit(client, setup, action="review_link.revoked")
    assert revoked[0]["after"] == {"link_id": link["id"], "state": "revoked"}
    assert client.delete(f"/api/v1/review-links/{link['id']}",
                         headers=setup["owner"]).status_code == 204  # again: no change
    assert len(_audit(client, setup, action="review_link.revoked")) == 1


def test_a_tampered_secret_opens_nothing(client, web_client, herald, setup):
    post = _submit(client, setup)
    link = _link(client, setup, post_ids=[post["id"]])
    path = _path(link)
    token = csrf_of(web_client.get(path).text)
    flipped = path[:-1] + ("A" if path[-1] != "A" else "B")
    for tampered in (flipped, path[:-1], path + "x"):
        assert web_client.get(tampered).status_code == 404
        answer = web_client.post(f"{tampered}/posts/{post['id']}/approve",
                                 data={"csrf_token": token, "name": "Mallory"})
        assert answer.status_code == 404
    assert _status(herald, post["id"]) == "awaiting_approval"


def test_a_link_for_one_post_neither_shows_nor_acts_on_another(
        client, web_client, herald, setup):
    mine = _submit(client, setup, caption="The clients own post")
    other = _submit(client, setup, caption="Someone else's secret launch")
    link = _link(client, setup, post_ids=[mine["id"]])
    page = web_client.get(_path(link)).text
    assert "The clients own post" in page and "secret launch" not in page
    for action, form in (("approve", {"name": "Eve"}),
                         ("reject", {"name": "Eve", "reason": "No"})):
        answer = _act(web_client, _path(link), other["id"], action, **form)
        assert answer.status_code == 404
    assert _status(herald, other["id"]) == "awaiting_approval"
    assert _audit(client, setup, action="post.approved") == []


def test_a_link_cannot_list_another_companys_post(client, herald, setup):
    with herald.db.session() as session:
        other, token = services.create_company(session, name="Other")
    other_account = add_account(herald, other.id, external_id="page-9")
    theirs = client.post("/api/v1/posts", headers={"Authorization": f"Bearer {token}"},
                         json={"account_id": other_account, "caption": "Theirs",
                               "post_type": "text", "draft": True}).json()["items"][0]
    answer = client.post("/api/v1/review-links", headers=setup["owner"],
                         json={"post_ids": [theirs["id"]]})
    assert answer.status_code == 404


@pytest.mark.all_engines
def test_a_group_link_shows_the_group_and_a_range_link_the_posts_due_in_it(
        client, web_client, herald, setup, company):
    second = add_account(herald, company[0], external_id="page-2")
    both = client.post("/api/v1/posts", headers=setup["owner"], json={
        "account_ids": [setup["account_id"], second], "caption": "Grouped",
        "post_type": "text", "run_at": "2030-01-02T09:00:00Z"}).json()["items"]
    outside = client.post("/api/v1/posts", headers=setup["owner"], json={
        "account_id": setup["account_id"], "caption": "Next month", "post_type": "text",
        "run_at": "2030-02-02T09:00:00Z"}).json()["items"][0]
    draft = client.post("/api/v1/posts", headers=setup["owner"], json={
        "account_id": setup["account_id"], "caption": "Unfinished draft", "post_type": "text",
        "draft": True}).json()["items"][0]
    group = _link(client, setup, group_id=both[0]["group_id"])
    assert web_client.get(_path(group)).text.count('class="panel review-post"') == 2
    ranged = _link(client, setup, **{"from": "2030-01-01T00:00:00Z",
                                     "to": "2030-01-31T00:00:00Z"})
    page = web_client.get(_path(ranged)).text
    assert page.count("Grouped") == 2 and "Next month" not in page
    assert "Unfinished draft" not in page
    listed = client.get("/api/v1/review-links", headers=setup["owner"],
                        params={"post_id": outside["id"]}).json()["items"]
    assert listed == []
    listed = client.get("/api/v1/review-links", headers=setup["owner"],
                        params={"post_id": both[1]["id"]}).json()["items"]
    assert {item["id"] for item in listed} == {group["id"], ranged["id"]}
    assert listed[0]["from"] is not None or listed[1]["from"] is not None
    assert all("url" not in item for item in listed)
    assert draft["status"] == "draft"


@pytest.mark.parametrize(("body", "says"), [
    ({}, "one of the three"),
    ({"post_ids": ["x"], "group_id": "g"}, "one of the three"),
    ({"from": "2030-01-01T00:00:00Z"}, "both from and to"),
    ({"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "after from"),
    ({"from": "2030-01-01T00:00:00Z", "to": "2030-06-01T00:00:00Z"}, "at most 92 days"),
    ({"group_id": "no-such-group"}, "No posts in the group"),
    ({"post_ids": ["no-such-post"]}, ""),
    ({"post_ids": [], "group_id": None}, "one of the three"),
    ({"group_id": "g", "expires_at": "2020-01-01T00:00:00Z"}, "has passed"),
    ({"group_id": "g", "expires_at": "2030-01-01T00:00:00"}, "timezone"),
    ({"group_id": "g", "expires_at": "next week"}, "expires_at"),
    ({"group_id": "g", "unknown": 1}, "unknown"),
], ids=["nothing", "two scopes", "from alone", "backwards", "too wide", "unknown group",
        "unknown post", "empty list", "expired already", "naive expiry", "not a time",
        "unknown field"])
def test_a_link_that_would_show_nothing_sensible_is_refused(client, setup, body, says):
    answer = client.post("/api/v1/review-links", headers=setup["owner"], json=body)
    assert answer.status_code in (404, 422), answer.text
    assert says in answer.json()["error"]["message"]


def test_a_link_lasts_at_most_90_days(client, setup):
    post = _submit(client, setup)
    far = (utcnow() + timedelta(days=91)).isoformat()
    answer = client.post("/api/v1/review-links", headers=setup["owner"],
                         json={"post_ids": [post["id"]], "expires_at": far})
    assert answer.status_code == 422 and "90 days" in answer.json()["error"]["message"]
    near = (utcnow() + timedelta(days=3)).isoformat()
    assert _link(client, setup, post_ids=[post["id"]], expires_at=near)["state"] == "active"


def test_the_review_forms_need_the_pages_csrf_token(client, web_client, herald, setup):
    post = _submit(client, setup)
    link = _link(client, setup, post_ids=[post["id"]])
    web_client.get(_path(link))
    answer = web_client.post(f"{_path(link)}/posts/{post['id']}/approve",
                             data={"name": "Ann"})
    assert answer.status_code == 403 and _status(herald, post["id"]) == "awaiting_approval"


def test_the_team_makes_and_revokes_a_link_from_the_post_page(client, herald, setup, company):
    from tests.app.web.conftest import add_member, sign_in

    post = _submit(client, setup)
    member = add_member(herald, company[0])  # the company's first member: its owner
    from fastapi.testclient import TestClient

    with TestClient(build_app(herald), follow_redirects=False) as web:
        browser = sign_in(web, member.email)
        page = browser.get(f"/posts/{post['id']}").text
        assert "Make a review link" in page and 'class="pv pv-facebook"' in page
        made = browser.post(f"/posts/{post['id']}/review-links", data={"scope": "post",
                                                                       "days": "7"})
        assert made.status_code == 303
        shown = browser.get(made.headers["location"]).text
        url = re.search(r"(http\S+/review/[\w-]+)", shown)
        assert url is not None, shown
        with herald.db.session() as session:
            link = session.scalars(select(ReviewLink)).one()
        assert link.post_ids == [post["id"]]
        assert timedelta(days=6) < link.expires_at - utcnow() <= timedelta(days=7)
        assert "/review-links/" in shown and "active" in shown
        browser.post(f"/review-links/{link.id}/revoke", data={"next": f"/posts/{post['id']}"})
        path = "/review/" + url.group(1).rsplit("/review/", 1)[1]
        assert web.get(path).status_code == 410


def test_the_calendar_makes_a_link_for_a_date_range(client, herald, setup, company):
    from fastapi.testclient import TestClient

    from tests.app.web.conftest import add_member, sign_in

    member = add_member(herald, company[0])
    with TestClient(build_app(herald), follow_redirects=False) as web:
        browser = sign_in(web, member.email)
        assert "Client review link for a date range" in browser.get("/calendar").text
        made = browser.post("/calendar/review-links", data={"start": "2030-01-01",
                                                             "end": "2030-01-07"})
        assert made.status_code == 303
        with herald.db.session() as session:
            link = session.scalars(select(ReviewLink)).one()
        assert link.at_from is not None and link.at_to is not None
        assert link.at_to - link.at_from == timedelta(days=7)
        bad = browser.post("/calendar/review-links", data={"start": "2030-01-07",
                                                            "end": "2030-01-01"})
        assert bad.status_code == 303
        assert "flash-error" in browser.get(bad.headers["location"]).text


def test_a_client_comments_through_the_link_and_the_team_sees_it_on_the_post(
        client, web_client, herald, setup):
    post = _submit(client, setup)
    link = _link(client, setup, post_ids=[post["id"]])
    answer = _act(web_client, _path(link), post["id"], "comment", name="Ann Client",
                  body="Can we say 9 am instead?")
    assert answer.status_code == 303
    thread = client.get(f"/api/v1/posts/{post['id']}/comments",
                        headers=setup["owner"]).json()["items"]
    assert [(c["author"], c["body"], c["review_link_id"]) for c in thread] == [
        ("Ann Client", "Can we say 9 am instead?", link["id"])]
    entry = _audit(client, setup, action="thread.commented")[0]
    assert entry["actor"] == f"review link {link['id']} (Ann Client)"
    page = web_client.get(_path(link)).text
    assert "Can we say 9 am instead?" in page and 'value="Ann Client"' in page  # remembered
    assert _status(herald, post["id"]) == "awaiting_approval"


def test_a_comment_through_a_link_on_another_post_or_empty_is_refused(
        client, web_client, herald, setup):
    mine = _submit(client, setup)
    other = _submit(client, setup, caption="Not on the link")
    link = _link(client, setup, post_ids=[mine["id"]])
    assert _act(web_client, _path(link), other["id"], "comment", name="Eve",
                body="Sneaky").status_code == 404
    empty = _act(web_client, _path(link), mine["id"], "comment", name="Ann", body="  ")
    assert "flash-error" in web_client.get(empty.headers["location"]).text
    for post_id in (mine["id"], other["id"]):
        assert client.get(f"/api/v1/posts/{post_id}/comments",
                          headers=setup["owner"]).json()["items"] == []


def test_with_a_client_step_the_link_approves_after_the_team_and_only_then(
        client, web_client, herald, setup, company):
    answer = client.patch("/api/v1/company", headers=setup["owner"],
                          json={"approval_steps": ["internal", "client"]})
    assert answer.status_code == 200, answer.text
    post = _submit(client, setup)
    link = _link(client, setup, post_ids=[post["id"]])
    assert "The team reviews it first" in web_client.get(_path(link)).text
    early = _act(web_client, _path(link), post["id"], "approve", name="Ann")
    assert "flash-error" in web_client.get(early.headers["location"]).text
    assert _status(herald, post["id"]) == "awaiting_approval"
    team = client.post(f"/api/v1/posts/{post['id']}/approve", headers=setup["owner"])
    assert team.status_code == 200 and team.json()["status"] == "awaiting_approval"
    page = web_client.get(_path(link)).text
    assert "The team reviews it first" not in page
    _act(web_client, _path(link), post["id"], "approve", name="Ann",
         revision=str(team.json()["revision"]))
    assert _status(herald, post["id"]) == "pending"
    actors = [e["actor"] for e in _audit(client, setup, action="post.approved")]
    assert actors[0] == f"review link {link['id']} (Ann)" and len(actors) == 2
