"""The web UI's approval steps: the owner turns on the client's step in Settings, the
editor's approval leaves the post waiting for the client, and the client's schedules it."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from herald import services
from herald.models import Company
from herald.permissions import Role
from herald.schemas import PostCreate
from herald.web import users
from tests.app.web.conftest import PASSWORD, build_app, sign_in
from tests.helpers import add_account


def test_the_team_then_the_client_approve_in_the_web_ui(herald, company):
    account_id = add_account(herald, company[0])
    with herald.db.session() as session:
        for role in (Role.OWNER, Role.EDITOR, Role.CLIENT):
            users.create_user(session, company_id=company[0], email=f"{role}@example.com",
                              password=PASSWORD, role=role)
    with TestClient(build_app(herald), follow_redirects=False) as web:
        owner = sign_in(web, "owner@example.com")
        saved = owner.post("/settings/approval", {"requires_approval": "on",
                                                  "client_step": "on"})
        assert saved.status_code == 303
        assert 'id="client-step" name="client_step" checked' in owner.get("/settings").text
    with herald.db.session() as session:
        assert session.get(Company, company[0]).approval_steps == [  # type: ignore[union-attr]
            "internal", "client"]
    ctx = herald.context(company[0], actor="web:c@example.com", role=Role.CONTRIBUTOR)
    with herald.unit_of_work() as session:
        post_id = services.create_posts(session, ctx, PostCreate(
            account_id=account_id, caption="Please", post_type="text",
            run_at=datetime(2030, 1, 1, 9, tzinfo=UTC)))[0].id
    with TestClient(build_app(herald), follow_redirects=False) as web:
        editor = sign_in(web, "editor@example.com")
        editor.post(f"/posts/{post_id}/approve", {"revision": "0", "next": "/approvals"})
        inbox = editor.get("/approvals").text
        assert "it now waits for the client&#39;s approval" in inbox
        assert "waits for the client</span>" in inbox
        again = editor.post(f"/posts/{post_id}/approve", {"revision": "0"})
        assert again.status_code == 303
        assert "waits for the client&#39;s approval" in editor.get(f"/posts/{post_id}").text
    with TestClient(build_app(herald), follow_redirects=False) as web:
        client = sign_in(web, "client@example.com")
        client.post(f"/posts/{post_id}/approve", {"revision": "0"})
        assert "Approved: it is scheduled." in client.get(f"/posts/{post_id}").text
