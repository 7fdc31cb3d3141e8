"""Several approval steps: the team approves, then the client; every transition, a
rejection at the client's step, edits back to the first step, the revision check, the
company setting and its bad values, and the function review links call."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from herald import queue, services
from herald.errors import Conflict, Invalid
from herald.models import Event
from herald.permissions import Role
from herald.services import approvals
from tests.helpers import add_account

LATER = "2030-01-01T09:00:00Z"
TWO_STEPS = ["internal", "client"]


@pytest.fixture
def env(client, herald, company) -> dict[str, Any]:
    account_id = add_account(herald, company[0])
    owner = {"Authorization": f"Bearer {company[1]}"}
    heads = {"owner": owner}
    for role in (Role.CONTRIBUTOR, Role.EDITOR, Role.CLIENT):
        with herald.db.session() as session:
            token = services.create_api_token(session, company_id=company[0],
                                              name=role.value, role=role)
        heads[role.value] = {"Authorization": f"Bearer {token}"}
    answer = client.patch(f"/api/v1/accounts/{account_id}", headers=owner,
                          json={"requires_approval": True})
    assert answer.status_code == 200
    return {"account_id": account_id, **heads}


def _steps(client, env, steps: list[str]) -> dict[str, Any]:
    answer = client.patch("/api/v1/company", headers=env["owner"],
                          json={"approval_steps": steps})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _submit(client, env) -> dict[str, Any]:
    answer = client.post("/api/v1/posts", headers=env["contributor"], json={
        "account_id": env["account_id"], "caption": "For approval", "post_type": "text",
        "run_at": LATER})
    assert answer.status_code == 201, answer.text
    post: dict[str, Any] = answer.json()["items"][0]
    return post


def _act(client, env, who: str, post_id: str, verb: str = "approve", **body: Any) -> Any:
    return client.post(f"/api/v1/posts/{post_id}/{verb}", headers=env[who], json=body or None)


def _queued(herald, post_id: str) -> str | None:
    with herald.db.engine.connect() as conn:
        return queue.queue_status(conn, post_id)


def test_the_company_setting_reads_back_and_is_in_the_audit_log(client, env):
    assert client.get("/api/v1/company", headers=env["owner"]).json()["approval_steps"] == [
        "internal"]
    assert _steps(client, env, TWO_STEPS)["approval_steps"] == TWO_STEPS
    [entry] = client.get("/api/v1/audit", headers=env["owner"],
                         params={"action": "company.settings"}).json()["items"]
    assert entry["before"] == {"approval_steps": ["internal"]}
    assert entry["after"] == {"approval_steps": TWO_STEPS}
    assert _steps(client, env, ["internal"])["approval_steps"] == ["internal"]


@pytest.mark.parametrize("steps", [["client"], ["client", "internal"],
                                   ["internal", "internal"], ["boss"], [],
                                   ["internal", "client", "client"]])
def test_steps_herald_does_not_have_are_a_422(client, env, steps):
    answer = client.patch("/api/v1/company", headers=env["owner"],
                          json={"approval_steps": steps})
    assert answer.status_code == 422, answer.text
    assert "approval_steps" in answer.text


def test_only_the_owner_sets_the_steps(client, env):
    with_editor = client.patch("/api/v1/company", headers=env["editor"],
                               json={"approval_steps": TWO_STEPS})
    assert with_editor.status_code == 403 and "'manage_company'" in with_editor.text


@pytest.mark.all_engines
def test_the_team_approves_then_the_client_and_only_then_it_is_queued(client, herald, env):
    _steps(client, env, TWO_STEPS)
    post = _submit(client, env)
    assert (post["status"], post["approval_step"]) == ("awaiting_approval", "internal")
    early = _act(client, env, "client", post["id"])
    assert early.status_code == 409 and "team's approval first" in early.text
    internal = _act(client, env, "editor", post["id"], revision=post["revision"])
    assert internal.status_code == 200, internal.text
    after_team = internal.json()
    assert (after_team["status"], after_team["approval_step"]) == ("awaiting_approval",
                                                                   "client")
    assert after_team["approved_by"].startswith("token:")
    assert _queued(herald, post["id"]) is None
    again = _act(client, env, "editor", post["id"])
    assert again.status_code == 409 and "waits for the client's approval" in again.text
    final = _act(client, env, "client", post["id"], revision=post["revision"])
    assert final.status_code == 200, final.text
    assert (final.json()["status"], final.json()["approval_step"]) == ("pending", None)
    assert _queued(herald, post["id"]) == "pending"
    entries = client.get("/api/v1/audit", headers=env["owner"], params={
        "post_id": post["id"], "action": "post.approved"}).json()["items"]
    assert [e["after"].get("approval_step", "-") for e in reversed(entries)] == [
        "client", None]
    assert entries[-1]["after"].get("status") is None and entries[0]["after"]["status"] == (
        "pending")


def test_the_teams_approval_asks_for_the_clients_and_the_clients_decides(client, herald,
                                                                           env):
    _steps(client, env, TWO_STEPS)
    post = _submit(client, env)
    _act(client, env, "editor", post["id"])
    _act(client, env, "client", post["id"])
    with herald.db.session() as session:
        kinds = [e.type for e in session.scalars(
            select(Event).where(Event.subject_id == post["id"]).order_by(Event.seq))]
    assert kinds == ["approval.requested", "approval.requested", "approval.decided"]


def test_a_client_rejects_at_the_client_step_and_it_goes_back_to_draft(client, herald, env):
    _steps(client, env, TWO_STEPS)
    post = _submit(client, env)
    early = _act(client, env, "client", post["id"], "reject", reason="Not yet")
    assert early.status_code == 409  # the team's step comes first
    _act(client, env, "editor", post["id"])
    rejected = _act(client, env, "client", post["id"], "reject", reason="Wrong price")
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert (body["status"], body["review_note"], body["approval_step"]) == (
        "draft", "Wrong price", None)
    assert _queued(herald, post["id"]) is None
    again = client.post(f"/api/v1/posts/{post['id']}/schedule", headers=env["contributor"],
                        json={"run_at": LATER}).json()
    assert (again["status"], again["approval_step"]) == ("awaiting_approval", "internal")


def test_the_team_may_withdraw_a_post_waiting_for_the_client(client, env):
    _steps(client, env, TWO_STEPS)
    post = _submit(client, env)
    _act(client, env, "editor", post["id"])
    rejected = _act(client, env, "editor", post["id"], "reject", reason="Hold on")
    assert rejected.status_code == 200 and rejected.json()["status"] == "draft"


def test_an_edit_at_the_client_step_sends_it_back_to_the_team(client, herald, env):
    _steps(client, env, TWO_STEPS)
    post = _submit(client, env)
    _act(client, env, "editor", post["id"])
    edited = client.patch(f"/api/v1/posts/{post['id']}", headers=env["contributor"],
                          json={"caption": "Version two"})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["status"], body["approval_step"], body["approved_by"]) == (
        "awaiting_approval", "internal", None)
    refused = _act(client, env, "client", post["id"])
    assert refused.status_code == 409 and _queued(herald, post["id"]) is None


def test_a_clients_approval_of_a_version_edited_since_is_refused(client, herald, env):
    _steps(client, env, TWO_STEPS)
    post = _submit(client, env)
    _act(client, env, "editor", post["id"])
    seen = client.get(f"/api/v1/posts/{post['id']}", headers=env["client"]).json()
    # An editor's edit keeps it waiting for the client (editors' edits need no approval
    # when the post is queued; one awaiting approval stays so, back at the team's step).
    client.patch(f"/api/v1/posts/{post['id']}", headers=env["contributor"],
                 json={"caption": "Changed"})
    _act(client, env, "editor", post["id"])
    stale = _act(client, env, "client", post["id"], revision=seen["revision"])
    assert stale.status_code == 409 and "changed after the version you approved" in stale.text
    assert _queued(herald, post["id"]) is None


def test_with_one_step_a_client_still_approves_as_before(client, herald, env):
    post = _submit(client, env)
    assert post["approval_step"] == "internal"
    approved = _act(client, env, "client", post["id"])
    assert approved.status_code == 200 and approved.json()["status"] == "pending"
    assert _queued(herald, post["id"]) == "pending"


def test_a_review_link_approves_at_the_client_step_through_approve(client, herald, company,
                                                                   env):
    _steps(client, env, TWO_STEPS)
    post = _submit(client, env)
    link = herald.context(company[0], actor="review:link-1", role=Role.CLIENT)
    with herald.unit_of_work() as session, pytest.raises(Conflict, match="team's approval"):
        approvals.approve(session, link, post["id"], step="client")
    _act(client, env, "editor", post["id"])
    with herald.unit_of_work() as session:
        done = approvals.approve(session, link, post["id"], step="client",
                                 revision=post["revision"])
        assert (done.status, done.approved_by, done.approval_step) == (
            "pending", "review:link-1", None)
    with herald.unit_of_work() as session, pytest.raises(Invalid, match="step must be"):
        approvals.approve(session, link, post["id"], step="boss")


def test_the_inbox_and_the_post_page_say_which_step_it_waits_at(client, herald, env):
    _steps(client, env, TWO_STEPS)
    post = _submit(client, env)
    _act(client, env, "editor", post["id"])
    listed = client.get("/api/v1/posts", headers=env["owner"],
                        params={"status": "awaiting_approval"}).json()["items"]
    assert [p["approval_step"] for p in listed] == ["client"]
    assert client.get(f"/api/v1/posts/{post['id']}",
                      headers=env["owner"]).json()["approval_step"] == "client"
