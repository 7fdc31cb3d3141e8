"""The web UI's forms obey the permission table too: a role that may, one that may not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from herald import services
from herald.permissions import Permission, Role
from herald.schemas import PostCreate
from herald.services import review_links
from herald.web import users
from tests.app.test_roles import CASES as API_CASES
from tests.app.test_roles import strongest_without, weakest_with
from tests.app.web.conftest import PASSWORD, Browser, sign_in
from tests.helpers import add_account, add_posts

P = Permission


def _token_id(herald: Any, company_id: str) -> str:
    with herald.db.session() as session:
        services.create_api_token(session, company_id=company_id, name="old")
        return str(services.list_api_tokens(session, herald.context(company_id))[-1].id)


def _viewer(herald: Any, company_id: str) -> str:
    with herald.db.session() as session:
        return users.create_user(session, company_id=company_id, email="v@example.com",
                                 password=PASSWORD, role=Role.VIEWER).id


def _later_post(herald: Any, company_id: str, account_id: str) -> str:
    return add_posts(herald, company_id, account_id, run_at=datetime(2030, 1, 1, 9, tzinfo=UTC),
                     post_type="text")[0]


def _awaiting(herald: Any, company_id: str, account_id: str) -> str:
    with herald.unit_of_work() as session:
        services.update_account_settings(session, herald.context(company_id), account_id,
                                         requires_approval=True)
    ctx = herald.context(company_id, actor="web:c@example.com", role=Role.CONTRIBUTOR)
    with herald.unit_of_work() as session:
        return services.create_posts(session, ctx, PostCreate(
            account_id=account_id, caption="Please", post_type="text",
            run_at=datetime(2030, 1, 1, 9, tzinfo=UTC)))[0].id


def _review_link(herald: Any, company_id: str, account_id: str) -> str:
    post_id = _later_post(herald, company_id, account_id)
    with herald.unit_of_work() as session:
        link, _ = review_links.create_link(session, herald.context(company_id),
                                           review_links.Scope(post_ids=(post_id,)))
        return str(link.id)


Call = Callable[[Browser, Any, str, str], httpx.Response]

#: (form, permission, call(browser, herald, company id, account id), ok statuses)
CASES: list[tuple[str, Permission, Call, tuple[int, ...]]] = [
    ("POST /settings/tokens", P.MANAGE_TOKENS,
     lambda b, h, c, a: b.post("/settings/tokens", {"name": "CI", "role": "viewer"}), (200,)),
    ("POST /settings/tokens/{id}/revoke", P.MANAGE_TOKENS,
     lambda b, h, c, a: b.post(f"/settings/tokens/{_token_id(h, c)}/revoke"), (303,)),
    ("POST /settings/members", P.MANAGE_MEMBERS,
     lambda b, h, c, a: b.post("/settings/members", {
         "email": "new@example.com", "password": PASSWORD, "role": "viewer"}), (303,)),
    ("POST /settings/members/{id}/role", P.MANAGE_MEMBERS,
     lambda b, h, c, a: b.post(f"/settings/members/{_viewer(h, c)}/role", {"role": "client"}),
     (303,)),
    ("POST /settings/members/{id}/remove", P.MANAGE_MEMBERS,
     lambda b, h, c, a: b.post(f"/settings/members/{_viewer(h, c)}/remove"), (303,)),
    ("POST /settings/approval", P.MANAGE_COMPANY,
     lambda b, h, c, a: b.post("/settings/approval", {"requires_approval": "on"}), (303,)),
    ("POST /accounts", P.MANAGE_ACCOUNTS,
     lambda b, h, c, a: b.post("/accounts", {"platform": "facebook", "name": "Second",
                                             "external_id": "page-2", "access_token": "t"}),
     (303,)),
    ("POST /accounts/{id}/token", P.MANAGE_ACCOUNTS,
     lambda b, h, c, a: b.post(f"/accounts/{a}/token", {"access_token": "fresh"}), (303,)),
    ("POST /accounts/{id}/approval", P.MANAGE_ACCOUNTS,
     lambda b, h, c, a: b.post(f"/accounts/{a}/approval", {"requires_approval": "on"}),
     (303,)),
    ("POST /accounts/{id}/remove", P.MANAGE_ACCOUNTS,
     lambda b, h, c, a: b.post(f"/accounts/{a}/remove"), (303,)),
    ("GET /audit", P.VIEW_AUDIT, lambda b, h, c, a: b.get("/audit"), (200,)),
    ("GET /approvals", P.APPROVE, lambda b, h, c, a: b.get("/approvals"), (200,)),
    ("POST /posts/{id}/approve", P.APPROVE,
     lambda b, h, c, a: b.post(f"/posts/{_awaiting(h, c, a)}/approve"), (303,)),
    ("POST /posts/{id}/reject", P.APPROVE,
     lambda b, h, c, a: b.post(f"/posts/{_awaiting(h, c, a)}/reject", {"reason": "No"}),
     (303,)),
    ("POST /posts/{id}/comments", P.COMMENT,
     lambda b, h, c, a: b.post(f"/posts/{_later_post(h, c, a)}/comments", {"body": "Hm"}),
     (303,)),
    ("POST /posts/{id}/edit (another's post)", P.EDIT_OTHERS,
     lambda b, h, c, a: b.post(f"/posts/{_later_post(h, c, a)}/edit",
                               {"caption": "Edited", "date": "2030-01-01", "time": "09:00"}),
     (303,)),
    ("POST /posts/{id}/review-links", P.MANAGE_REVIEW_LINKS,
     lambda b, h, c, a: b.post(f"/posts/{_later_post(h, c, a)}/review-links",
                               {"scope": "post"}), (303,)),
    ("POST /calendar/review-links", P.MANAGE_REVIEW_LINKS,
     lambda b, h, c, a: b.post("/calendar/review-links", {"start": "2030-01-01",
                                                          "end": "2030-01-07"}), (303,)),
    ("POST /review-links/{id}/revoke", P.MANAGE_REVIEW_LINKS,
     lambda b, h, c, a: b.post(f"/review-links/{_review_link(h, c, a)}/revoke"), (303,)),
]


def _as(web: Any, herald: Any, company_id: str, role: Role) -> Browser:
    email = f"{role.value}@example.com"
    with herald.db.session() as session:
        users.create_user(session, company_id=company_id, email=email, password=PASSWORD,
                          role=role)
    return sign_in(web, email)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_role_with_the_permission_may(web, herald, company, case):
    _, permission, call, ok = case
    account_id = add_account(herald, company[0])
    browser = _as(web, herald, company[0], weakest_with(permission))
    answer = call(browser, herald, company[0], account_id)
    assert answer.status_code in ok, answer.text


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_role_without_the_permission_sees_a_403_naming_it(web, herald, company, case):
    _, permission, call, _ = case
    account_id = add_account(herald, company[0])
    role = strongest_without(permission)
    assert role is not None
    browser = _as(web, herald, company[0], role)
    answer = call(browser, herald, company[0], account_id)
    assert answer.status_code == 403, answer.text
    assert f"&#39;{permission}&#39;" in answer.text or f"'{permission}'" in answer.text


def test_settings_offers_only_what_the_role_may(web, herald, company):
    editor = _as(web, herald, company[0], Role.EDITOR)
    page = editor.get("/settings").text
    assert "Add a member" not in page and "Create token" not in page
    assert "Members of" in page


def test_the_first_member_is_the_owner_and_the_next_an_editor(herald, company):
    with herald.db.session() as session:
        first = users.create_user(session, company_id=company[0], email="a@example.com",
                                  password=PASSWORD)
        second = users.create_user(session, company_id=company[0], email="b@example.com",
                                   password=PASSWORD)
        assert (first.role, second.role) == ("owner", "editor")


def test_every_permission_is_tested_on_some_route():
    tested = {c[2] for c in API_CASES} | {c[1] for c in CASES}
    assert set(Permission) - tested == set()


def test_the_inbox_lists_what_awaits_and_approving_schedules_it(web, herald, company):
    account_id = add_account(herald, company[0])
    post_id = _awaiting(herald, company[0], account_id)
    editor = _as(web, herald, company[0], Role.EDITOR)
    inbox = editor.get("/approvals")
    assert post_id in inbox.text and "Please" in inbox.text
    assert 'href="/approvals"' in editor.get("/").text
    done = editor.post(f"/posts/{post_id}/approve", {"revision": "0", "next": "/approvals"})
    assert done.status_code == 303 and done.headers["location"] == "/approvals"
    with herald.db.session() as session:
        assert services.get_post(session, herald.context(company[0]), post_id).status == \
            "pending"
    assert post_id not in editor.get("/approvals").text


def test_a_rejected_post_shows_its_author_the_reason(web, herald, company):
    account_id = add_account(herald, company[0])
    post_id = _awaiting(herald, company[0], account_id)
    editor = _as(web, herald, company[0], Role.EDITOR)
    editor.post(f"/posts/{post_id}/reject", {"reason": "Wrong hashtag", "revision": "0"})
    page = editor.get(f"/posts/{post_id}").text
    assert "Rejected: Wrong hashtag" in page


def test_the_audit_page_shows_who_did_what(web, herald, company):
    account_id = add_account(herald, company[0])
    post_id = _awaiting(herald, company[0], account_id)
    editor = _as(web, herald, company[0], Role.EDITOR)
    editor.post(f"/posts/{post_id}/approve", {"revision": "0"})
    page = editor.get(f"/audit?post_id={post_id}").text
    assert "post.submitted" in page and "post.approved" in page
    assert "web:editor@example.com" in page and "web:c@example.com" in page
    assert 'href="/audit"' in page
    only = editor.get("/audit?action=post.approved").text
    assert "post.approved" in only and "post.submitted</code>" not in only


def test_connecting_through_a_platform_needs_manage_accounts_before_the_dialog(web, herald,
                                                                              company):
    editor = _as(web, herald, company[0], Role.EDITOR)
    refused = editor.get("/accounts/connect/facebook")
    assert refused.status_code == 403 and "manage_accounts" in refused.text


def test_a_contributor_edits_a_post_awaiting_approval_and_it_still_waits(web, herald, company):
    account_id = add_account(herald, company[0])
    post_id = _awaiting(herald, company[0], account_id)
    with herald.db.session() as session:
        users.create_user(session, company_id=company[0], email="c@example.com",
                          password=PASSWORD, role=Role.CONTRIBUTOR)
    author = sign_in(web, "c@example.com")
    page = author.get(f"/posts/{post_id}").text
    assert "Awaiting approval" in page and "An approver will schedule it" in page
    assert 'action="/posts/' + post_id + '/approve"' not in page
    saved = author.post(f"/posts/{post_id}/edit", {"caption": "Better", "date": "2030-01-01",
                                                   "time": "09:00"})
    assert saved.status_code == 303, saved.text
    with herald.db.session() as session:
        post = services.get_post(session, herald.context(company[0]), post_id)
        assert (post.status, post.caption, post.revision) == ("awaiting_approval", "Better", 1)


def test_settings_adds_a_member_limited_to_some_accounts(web, herald, company):
    mine = add_account(herald, company[0], external_id="page-mine")
    add_account(herald, company[0], external_id="page-other")
    admin = _as(web, herald, company[0], Role.ADMIN)
    added = admin.client.post("/settings/members", data={
        "email": "ig@example.com", "password": PASSWORD, "role": "contributor",
        "limited": "on", "account_ids": [mine], "csrf_token": admin.csrf})
    assert added.status_code == 303, added.text
    everyone = admin.post("/settings/members", {"email": "all@example.com",
                                                "password": PASSWORD, "role": "viewer",
                                                "account_ids": [mine]})
    assert everyone.status_code == 303
    with herald.db.session() as session:
        found = {u.email: u.account_ids for u in services.list_members(
            session, herald.context(company[0]))}
    assert found["ig@example.com"] == [mine] and found["all@example.com"] is None
    assert "Only: facebook page-mine" in admin.get("/settings").text


def test_a_member_removed_while_signed_in_is_signed_out_at_once(web_app, web, herald,
                                                                company):
    from fastapi.testclient import TestClient

    _as(web, herald, company[0], Role.VIEWER)  # signed in on `web`
    with TestClient(web_app, follow_redirects=False) as other:
        admin = _as(other, herald, company[0], Role.ADMIN)
        with herald.db.session() as session:
            viewer = next(u for u in services.list_members(session, herald.context(company[0]))
                          if u.role == "viewer")
        assert web.get("/posts").status_code == 200
        assert admin.post(f"/settings/members/{viewer.id}/remove").status_code == 303
    gone = web.get("/posts")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/signin")
