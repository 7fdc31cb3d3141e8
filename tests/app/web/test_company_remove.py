"""`herald company remove`: a removed company's tokens and sessions stop working.

Before there was no way to remove a company (issue 13, finding 7b: a token outlives its
company). Removal deletes it and all it holds; it is refused while posts would still go
out unless --force, and while one is being published.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from herald import services
from herald.app import create_app
from herald.cli import app
from herald.models import ApiToken, Post, SocialAccount
from tests.conftest import SECRET
from tests.helpers import add_account, add_posts


def _remove(database_url: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["company", "remove", *args], env={
        "HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET})


@pytest.mark.all_engines
def test_a_removed_companys_tokens_and_sessions_stop_working(
        herald, company, database_url, signed_in) -> None:
    auth = {"Authorization": f"Bearer {company[1]}"}
    with herald.db.session() as session:
        other, other_token = services.create_company(session, name="Other")
    account = add_account(herald, company[0])
    [pid] = add_posts(herald, company[0], account, run_at="2099-01-01T09:00:00Z")
    assert signed_in.get("/settings").status_code == 200

    refused = _remove(database_url, company[0], "--yes")
    assert refused.exit_code == 1
    assert "1 posts still to go out" in refused.output and "--force" in refused.output
    with herald.db.engine.begin() as conn:  # a worker is publishing it
        conn.execute(update(Post).where(Post.id == pid).values(status="processing"))
    assert "being published" in _remove(database_url, company[0], "--yes", "--force").output
    with herald.db.engine.begin() as conn:
        conn.execute(update(Post).where(Post.id == pid).values(status="pending"))

    removed = _remove(database_url, company[0], "--yes", "--force", "--json")
    assert removed.exit_code == 0, removed.output
    assert json.loads(removed.stdout)["posts"] == {"pending": 1}

    with TestClient(create_app(herald)) as client:  # a server that never saw the token
        answer = client.get("/api/v1/posts", headers=auth)
        assert answer.status_code == 401
        assert client.get("/api/v1/posts", headers={
            "Authorization": f"Bearer {other_token}"}).status_code == 200
    page = signed_in.get("/settings")  # the member's session: signed out
    assert page.status_code == 303 and page.headers["location"].startswith("/signin")
    with herald.db.session() as session:
        for table in (ApiToken, SocialAccount, Post):
            left = session.scalar(select(func.count()).select_from(table)
                                  .where(table.company_id == company[0]))
            assert left == 0, table
        assert services.find_company(session, other.id).name == "Other"


def test_removing_asks_first_and_names_unknown_companies(company, database_url) -> None:
    aborted = CliRunner().invoke(app, ["company", "remove", company[0]], input="n\n", env={
        "HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET})
    assert aborted.exit_code == 1
    assert _remove(database_url, "nope", "--yes").exit_code == 1
    assert _remove(database_url, company[0], "--yes").exit_code == 0  # no posts: no force
