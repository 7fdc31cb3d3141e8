"""Approvals: awaiting_approval, approve (queued), reject (back to draft), and their races."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from herald import queue, services
from herald.errors import Conflict
from herald.models import utcnow
from herald.permissions import Role
from herald.schemas import PostCreate, PostPatch
from tests.helpers import add_account

LATER = "2030-01-01T09:00:00Z"


@pytest.fixture
def setup(client, herald, company):
    account_id = add_account(herald, company[0])
    owner = {"Authorization": f"Bearer {company[1]}"}

    def token(role: Role) -> dict[str, str]:
        with herald.db.session() as session:
            made = services.create_api_token(session, company_id=company[0], name=role.value,
                                             role=role)
        return {"Authorization": f"Bearer {made}"}

    return account_id, owner, token(Role.CONTRIBUTOR), token(Role.EDITOR)


def _require_approval(client, owner, account_id):
    answer = client.patch(f"/api/v1/accounts/{account_id}", headers=owner,
                          json={"requires_approval": True})
    assert answer.status_code == 200 and answer.json()["requires_approval"] is True


def _submit(client, headers, account_id, **extra):
    answer = client.post("/api/v1/posts", headers=headers, json={
        "account_id": account_id, "caption": "For approval", "post_type": "text",
        "run_at": LATER, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()["items"][0]


def _queued(herald, post_id):
    with herald.db.engine.connect() as conn:
        return queue.queue_status(conn, post_id)


def test_a_contributors_post_waits_for_approval_and_is_not_queued(client, herald, setup):
    account_id, owner, contributor, _ = setup
    _require_approval(client, owner, account_id)
    post = _submit(client, contributor, account_id)
    assert post["status"] == "awaiting_approval"
    assert _queued(herald, post["id"]) is None
    listed = client.get("/api/v1/posts?status=awaiting_approval", headers=owner).json()
    assert [p["id"] for p in listed["items"]] == [post["id"]]


def test_the_companys_setting_covers_every_account(client, herald, setup):
    account_id, owner, contributor, _ = setup
    assert client.patch("/api/v1/company", headers=owner,
                        json={"requires_approval": True}).json()["requires_approval"]
    assert _submit(client, contributor, account_id)["status"] == "awaiting_approval"


def test_without_approval_a_contributor_may_only_draft(client, setup):
    account_id, _, contributor, editor = setup
    refused = client.post("/api/v1/posts", headers=contributor, json={
        "account_id": account_id, "caption": "x", "post_type": "text", "run_at": LATER})
    assert refused.status_code == 403 and "'schedule'" in refused.json()["error"]["message"]
    assert _submit(client, editor, account_id)["status"] == "pending"


def test_a_contributor_may_not_publish_now_even_with_approval(client, setup):
    account_id, owner, contributor, _ = setup
    _require_approval(client, owner, account_id)
    refused = client.post("/api/v1/posts", headers=contributor, json={
        "account_id": account_id, "caption": "x", "post_type": "text", "run_at": "now"})
    assert refused.status_code == 403
    assert "'publish_now'" in refused.json()["error"]["message"]


def test_approve_queues_it_and_reject_sends_it_back_to_draft_with_the_reason(
        client, herald, setup):
    account_id, owner, contributor, editor = setup
    _require_approval(client, owner, account_id)
    first, second = (_submit(client, contributor, account_id) for _ in range(2))
    refused = client.post(f"/api/v1/posts/{first['id']}/approve", headers=contributor)
    assert refused.status_code == 403 and "'approve'" in refused.json()["error"]["message"]
    approved = client.post(f"/api/v1/posts/{first['id']}/approve", headers=editor).json()
    assert approved["status"] == "pending" and approved["approved_by"].startswith("token:")
    assert _queued(herald, first["id"]) == "pending"
    again = client.post(f"/api/v1/posts/{first['id']}/approve", headers=editor)
    assert again.status_code == 409
    empty = client.post(f"/api/v1/posts/{second['id']}/reject", headers=editor,
                        json={"reason": "  "})
    assert empty.status_code == 422
    rejected = client.post(f"/api/v1/posts/{second['id']}/reject", headers=editor,
                           json={"reason": "Too many hashtags"}).json()
    assert rejected["status"] == "draft" and rejected["review_note"] == "Too many hashtags"
    assert _queued(herald, second["id"]) is None
    # Fixed and sent again: awaiting approval once more, the note gone.
    again = client.post(f"/api/v1/posts/{second['id']}/schedule", headers=contributor,
                        json={"run_at": LATER}).json()
    assert again["status"] == "awaiting_approval" and again["review_note"] is None


def test_an_approval_of_an_older_revision_is_refused(client, setup):
    account_id, owner, contributor, editor = setup
    _require_approval(client, owner, account_id)
    post = _submit(client, contributor, account_id)
    edited = client.patch(f"/api/v1/posts/{post['id']}", headers=contributor,
                          json={"caption": "Changed my mind"}).json()
    assert edited["revision"] == post["revision"] + 1
    stale = client.post(f"/api/v1/posts/{post['id']}/approve", headers=editor,
                        json={"revision": post["revision"]})
    assert stale.status_code == 409 and "changed" in stale.json()["error"]["message"]
    fresh = client.post(f"/api/v1/posts/{post['id']}/approve", headers=editor,
                        json={"revision": edited["revision"]})
    assert fresh.status_code == 200 and fresh.json()["caption"] == "Changed my mind"


def test_editing_an_approved_post_sends_it_back_for_approval(client, herald, setup):
    account_id, owner, contributor, editor = setup
    _require_approval(client, owner, account_id)
    post = _submit(client, contributor, account_id)
    client.post(f"/api/v1/posts/{post['id']}/approve", headers=editor)
    edited = client.patch(f"/api/v1/posts/{post['id']}", headers=contributor,
                          json={"caption": "Sneaky change"}).json()
    assert edited["status"] == "awaiting_approval" and edited["approved_by"] is None
    assert _queued(herald, post["id"]) is None
    # An editor's own edit needs no approval: they may schedule.
    client.post(f"/api/v1/posts/{post['id']}/approve", headers=editor)
    by_editor = client.patch(f"/api/v1/posts/{post['id']}", headers=editor,
                             json={"caption": "Polished"}).json()
    assert by_editor["status"] == "pending" and _queued(herald, post["id"]) == "pending"


def test_a_post_whose_time_passes_while_it_waits_is_not_published_and_says_so(
        client, herald, company, setup):
    account_id, owner, _, editor = setup
    _require_approval(client, owner, account_id)
    earlier = utcnow() - timedelta(hours=2)
    ctx = replace(herald.context(company[0], actor="web:c@example.com",
                                 role=Role.CONTRIBUTOR), now=lambda: earlier)
    with herald.unit_of_work() as session:
        post = services.create_posts(session, ctx, PostCreate(
            account_id=account_id, caption="Late", post_type="text",
            run_at=earlier + timedelta(hours=1)))[0]
    shown = client.get(f"/api/v1/posts/{post.id}", headers=owner).json()
    assert shown["status"] == "awaiting_approval"
    assert "passed while it waited for approval" in shown["review_note"]
    listed = client.get("/api/v1/posts", headers=owner).json()["items"][0]
    assert "not published" in listed["review_note"]
    late = client.post(f"/api/v1/posts/{post.id}/approve", headers=editor)
    assert late.status_code == 409 and "passed" in late.json()["error"]["message"]
    assert _queued(herald, post.id) is None
    moved = client.post(f"/api/v1/posts/{post.id}/approve", headers=editor,
                        json={"run_at": LATER})
    assert moved.status_code == 200 and moved.json()["status"] == "pending"


def _contributor_post(herald, company_id, account_id):
    with herald.unit_of_work() as session:
        services.update_account_settings(session, herald.context(company_id), account_id,
                                         requires_approval=True)
    ctx = herald.context(company_id, actor="web:c@example.com", role=Role.CONTRIBUTOR)
    with herald.unit_of_work() as session:
        post = services.create_posts(session, ctx, PostCreate(
            account_id=account_id, caption="v1", post_type="text", run_at=LATER))[0]
    return ctx, post.id


def _in_thread(target):
    outcome: dict[str, object] = {}

    def run():
        try:
            outcome["value"] = target()
        except Exception as exc:  # the test reads it back
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.all_engines
def test_an_edit_holding_the_post_makes_a_racing_approval_fail(herald, company):
    account_id = add_account(herald, company[0])
    contributor, post_id = _contributor_post(herald, company[0], account_id)
    editor = herald.context(company[0], actor="token:editor", role=Role.EDITOR)
    with herald.unit_of_work() as session:
        services.update_post(session, contributor, post_id, PostPatch(caption="v2"))

        def approve():
            with herald.unit_of_work() as other:
                return services.approve_post(other, editor, post_id, revision=0)

        thread, outcome = _in_thread(approve)
        time.sleep(0.5)  # the approval is now waiting for the edit's lock
    thread.join(30)
    assert isinstance(outcome.get("error"), Conflict), outcome
    with herald.db.session() as session:
        post = services.get_post(session, editor, post_id)
        assert (post.status, post.caption, post.revision) == ("awaiting_approval", "v2", 1)
    assert _queued(herald, post_id) is None


@pytest.mark.all_engines
def test_an_edit_after_a_racing_approval_takes_the_post_out_of_the_queue(herald, company):
    account_id = add_account(herald, company[0])
    contributor, post_id = _contributor_post(herald, company[0], account_id)
    editor = herald.context(company[0], actor="token:editor", role=Role.EDITOR)
    with herald.unit_of_work() as session:
        services.approve_post(session, editor, post_id, revision=0)

        def edit():
            with herald.unit_of_work() as other:
                return services.update_post(other, contributor, post_id,
                                            PostPatch(caption="v2"))

        thread, outcome = _in_thread(edit)
        time.sleep(0.5)  # the edit is now waiting for the approval's lock
    thread.join(30)
    assert "error" not in outcome, outcome
    with herald.db.session() as session:
        post = services.get_post(session, editor, post_id)
        assert (post.status, post.caption, post.approved_by) == ("awaiting_approval", "v2",
                                                                 None)
    assert _queued(herald, post_id) is None
