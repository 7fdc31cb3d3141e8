"""The audit log: each step with who did it and the before and after, in the change's
transaction; GET /api/v1/audit and its filters."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from herald import services
from herald.models import utcnow
from herald.permissions import Role
from herald.schemas import PostPatch
from tests.helpers import add_account

LATER = "2030-01-01T09:00:00Z"


@pytest.fixture
def api(client, herald, company):
    def token(role: Role) -> dict[str, str]:
        with herald.db.session() as session:
            made = services.create_api_token(session, company_id=company[0], name=role.value,
                                             role=role)
        return {"Authorization": f"Bearer {made}"}

    return {"owner": {"Authorization": f"Bearer {company[1]}"},
            "contributor": token(Role.CONTRIBUTOR), "editor": token(Role.EDITOR)}


def _entries(client, headers, **filters):
    answer = client.get("/api/v1/audit", headers=headers, params=filters)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_each_step_of_a_post_is_logged_with_who_and_what_changed(client, herald, company,
                                                                 api):
    account_id = add_account(herald, company[0])
    client.patch(f"/api/v1/accounts/{account_id}", headers=api["owner"],
                 json={"requires_approval": True})
    post = client.post("/api/v1/posts", headers=api["contributor"], json={
        "account_id": account_id, "caption": "v1", "post_type": "text",
        "run_at": LATER}).json()["items"][0]
    client.patch(f"/api/v1/posts/{post['id']}", headers=api["contributor"],
                 json={"caption": "v2"})
    client.post(f"/api/v1/posts/{post['id']}/approve", headers=api["editor"])
    client.patch(f"/api/v1/posts/{post['id']}", headers=api["editor"],
                 json={"run_at": "2030-01-02T09:00:00Z"})
    client.delete(f"/api/v1/posts/{post['id']}", headers=api["owner"])
    steps = list(reversed(_entries(client, api["editor"], post_id=post["id"])))
    assert [s["action"] for s in steps] == ["post.submitted", "post.edited", "post.approved",
                                            "post.rescheduled", "post.cancelled"]
    prefix = {k: h["Authorization"].removeprefix("Bearer ")[:12] for k, h in api.items()}
    assert [s["actor"] for s in steps] == [f"token:{prefix[k]}" for k in (
        "contributor", "contributor", "editor", "editor", "owner")]
    submitted, edited, approved, moved, cancelled = steps
    assert submitted["before"] is None and submitted["after"]["status"] == "awaiting_approval"
    assert edited["before"]["caption"] == "v1" and edited["after"]["caption"] == "v2"
    assert approved["before"]["status"] == "awaiting_approval"
    assert approved["after"]["status"] == "pending"
    assert moved["after"]["scheduled_at"].startswith("2030-01-02T09:00")
    assert (cancelled["before"]["status"], cancelled["after"]["status"]) == ("pending",
                                                                           "cancelled")
    assert all(s["post_id"] == post["id"] and s["account_id"] == account_id for s in steps)


def test_accounts_tokens_members_and_settings_are_logged_without_secrets(client, herald,
                                                                        company, api):
    made = client.post("/api/v1/accounts", headers=api["owner"], json={
        "platform": "facebook", "external_id": "page-9", "name": "Nine",
        "access_token": "very-secret-page-token"}).json()
    client.put(f"/api/v1/accounts/{made['id']}/token", headers=api["owner"],
               json={"access_token": "another-secret-token"})
    client.delete(f"/api/v1/accounts/{made['id']}", headers=api["owner"])
    client.patch("/api/v1/company", headers=api["owner"], json={"requires_approval": True})
    member = client.post("/api/v1/members", headers=api["owner"], json={
        "email": "new@example.com", "password": "a-long-password", "role": "viewer"}).json()
    client.patch(f"/api/v1/members/{member['id']}", headers=api["owner"],
                 json={"role": "client"})
    client.delete(f"/api/v1/members/{member['id']}", headers=api["owner"])
    ctx = herald.context(company[0], actor="web:ada@example.com")
    with herald.unit_of_work() as session:
        services.issue_api_token(session, ctx, name="CI", role="viewer")
        token_id = services.list_api_tokens(session, ctx)[-1].id
    with herald.unit_of_work() as session:
        services.revoke_company_token(session, ctx, token_id)
    entries = list(reversed(_entries(client, api["owner"])))
    assert [e["action"] for e in entries] == [
        "account.connected", "account.reconnected", "account.removed", "company.settings",
        "member.added", "member.role_changed", "member.removed", "token.created",
        "token.revoked"]
    assert entries[3]["before"] == {"requires_approval": False}
    assert entries[5]["before"]["role"] == "viewer" and entries[5]["after"]["role"] == "client"
    assert entries[7]["actor"] == "web:ada@example.com"
    assert entries[7]["after"]["role"] == "viewer"
    text = json.dumps(entries)
    assert "very-secret" not in text and "another-secret" not in text
    assert "a-long-password" not in text


def test_filters_and_pages(client, herald, company, api):
    first = add_account(herald, company[0], external_id="page-1")
    second = add_account(herald, company[0], external_id="page-2")
    for account_id in (first, second, second):
        client.post("/api/v1/posts", headers=api["editor"], json={
            "account_id": account_id, "caption": "x", "post_type": "text", "draft": True})
    owner = api["owner"]
    assert len(_entries(client, owner, account_id=second, action="post.created")) == 2
    assert _entries(client, owner, actor="web:nobody@example.com") == []
    assert len(_entries(client, owner, action="account.connected")) == 2
    soon = (utcnow() + timedelta(minutes=5)).isoformat()
    assert len(_entries(client, owner, to=soon)) == 5
    assert _entries(client, owner, **{"from": soon}) == []
    page = client.get("/api/v1/audit", headers=owner, params={"limit": 2}).json()
    rest = client.get("/api/v1/audit", headers=owner,
                      params={"limit": 10, "cursor": page["next_cursor"]}).json()
    ids = [e["id"] for e in page["items"] + rest["items"]]
    assert len(ids) == 5 == len(set(ids)) and ids == sorted(ids, reverse=True)
    bad = client.get("/api/v1/audit", headers=owner, params={"action": "post.exploded"})
    assert bad.status_code == 422 and "post.created" in bad.json()["error"]["message"]


@pytest.mark.all_engines
def test_an_entry_is_written_in_the_changes_transaction(herald, company):
    account_id = add_account(herald, company[0])
    ctx = herald.context(company[0], actor="cli")
    with herald.unit_of_work() as session:
        services.update_account_settings(session, ctx, account_id, requires_approval=True)
    post_ids = []
    with herald.unit_of_work() as session:
        from herald.schemas import PostCreate

        post_ids.append(services.create_posts(session, ctx, PostCreate(
            account_id=account_id, caption="v1", post_type="text", draft=True))[0].id)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), herald.unit_of_work() as session:
        services.update_post(session, ctx, post_ids[0], PostPatch(caption="v2"))
        raise Boom()
    with herald.db.session() as session:
        rows, _ = services.audit.entries(session, ctx, services.audit.AuditFilters())
        assert [r.action for r in rows] == ["post.created", "account.settings",
                                            "account.connected"]
        assert services.get_post(session, ctx, post_ids[0]).caption == "v1"


def test_the_audit_page_lists_entries_for_those_who_may_read_it(client, herald, company,
                                                               api):
    # (the page's permission test is in tests/app/web/test_roles_web.py)
    add_account(herald, company[0])
    refused = client.get("/api/v1/audit", headers=api["contributor"])
    assert refused.status_code == 403 and "'view_audit'" in refused.text
