"""The post page's thread: the comments, the form that adds one, deleting one's own."""

from __future__ import annotations

from fastapi.testclient import TestClient

from herald.permissions import Role
from herald.web import users
from tests.app.web.conftest import PASSWORD, build_app, sign_in
from tests.helpers import add_account, add_posts


def _post(herald, company_id: str) -> str:
    account_id = add_account(herald, company_id)
    return add_posts(herald, company_id, account_id, run_at="2030-01-01T09:00:00Z",
                     post_type="text", caption="Our autumn sale")[0]


def test_the_post_page_shows_the_thread_and_a_form_that_adds_to_it(herald, company):
    post_id = _post(herald, company[0])
    with herald.db.session() as session:
        users.create_user(session, company_id=company[0], email="ada@example.com",
                          password=PASSWORD, name="Ada",
                          role=Role.CONTRIBUTOR)
        users.create_user(session, company_id=company[0], email="vi@example.com",
                          password=PASSWORD, role=Role.VIEWER)
    with TestClient(build_app(herald), follow_redirects=False) as web:
        ada = sign_in(web, "ada@example.com")
        page = ada.get(f"/posts/{post_id}").text
        assert "No comments yet." in page and 'action="/posts/' in page
        added = ada.post(f"/posts/{post_id}/comments", {"body": "Shorter, <b>please</b>"})
        assert added.status_code == 303
        assert added.headers["location"] == f"/posts/{post_id}#comments"
        page = ada.get(f"/posts/{post_id}").text
        assert "Shorter, &lt;b&gt;please&lt;/b&gt;" in page and "Delete" in page
        empty = ada.post(f"/posts/{post_id}/comments", {"body": "  "})
        assert empty.status_code == 303
        assert "needs some text" in ada.get(f"/posts/{post_id}").text
    with TestClient(build_app(herald), follow_redirects=False) as web:
        viewer = sign_in(web, "vi@example.com")
        page = viewer.get(f"/posts/{post_id}").text
        assert "Shorter, &lt;b&gt;please&lt;/b&gt;" in page
        assert "Add a comment" not in page and "your comment" not in page
