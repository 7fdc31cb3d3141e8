"""Every API route, called by a role that may and by one that may not (from the table).

The role that may is the weakest that holds the route's permission; the one that may not
is the strongest that lacks it, so its refusal is about that permission and no other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from herald import services
from herald.permissions import PERMISSIONS, Permission, Role
from herald.web import users
from tests.conftest import jpeg_bytes
from tests.helpers import add_account

P = Permission
LATER = "2030-01-01T09:00:00Z"
SSO = {"issuer": "https://login.example.com", "client_id": "herald", "client_secret": "s",
       "default_role": "viewer"}
SLACK = "slack://T000/B000/XXXXXXXX"
SCHEDULE = {"timezone": "Europe/Berlin", "slots": [{"weekday": "mon", "time": "09:00"}]}


def weakest_with(permission: Permission) -> Role:
    having = [r for r in Role if permission in PERMISSIONS[r]]
    return min(having, key=lambda r: len(PERMISSIONS[r]))


def strongest_without(permission: Permission) -> Role | None:
    lacking = [r for r in Role if permission not in PERMISSIONS[r]]
    return max(lacking, key=lambda r: len(PERMISSIONS[r])) if lacking else None


@dataclass
class Env:
    client: Any
    herald: Any
    company_id: str
    owner: dict[str, str]
    account_id: str
    tokens: dict[Role, dict[str, str]] = field(default_factory=dict)

    def as_role(self, role: Role) -> dict[str, str]:
        if role not in self.tokens:
            with self.herald.db.session() as session:
                token = services.create_api_token(session, company_id=self.company_id,
                                                  name=role.value, role=role)
            self.tokens[role] = {"Authorization": f"Bearer {token}"}
        return self.tokens[role]

    def draft(self, headers: dict[str, str] | None = None) -> str:
        answer = self.client.post("/api/v1/posts", headers=headers or self.owner, json={
            "account_id": self.account_id, "caption": "Draft", "post_type": "text",
            "draft": True})
        assert answer.status_code == 201, answer.text
        post_id: str = answer.json()["items"][0]["id"]
        return post_id

    def awaiting(self) -> str:
        """A contributor's post on an account that requires approval."""
        made = self.client.patch(f"/api/v1/accounts/{self.account_id}", headers=self.owner,
                                 json={"requires_approval": True})
        assert made.status_code == 200, made.text
        answer = self.client.post("/api/v1/posts", headers=self.as_role(Role.CONTRIBUTOR),
                                  json={"account_id": self.account_id, "caption": "Please",
                                        "post_type": "text", "run_at": LATER})
        assert answer.json()["items"][0]["status"] == "awaiting_approval", answer.text
        post_id: str = answer.json()["items"][0]["id"]
        return post_id

    def queued(self) -> str:
        """A post in the account's queue (its schedule set by the owner)."""
        self.client.put(f"/api/v1/accounts/{self.account_id}/schedule", headers=self.owner,
                        json=SCHEDULE)
        answer = self.client.post("/api/v1/posts", headers=self.owner, json={
            "account_id": self.account_id, "caption": "Queued", "post_type": "text",
            "run_at": "next_slot"})
        assert answer.status_code == 201, answer.text
        post_id: str = answer.json()["items"][0]["id"]
        return post_id

    def series(self) -> str:
        answer = self.client.post("/api/v1/series", headers=self.owner, json={
            "account_id": self.account_id, "caption": "Weekly", "post_type": "text",
            "run_at": LATER, "recurrence": {"rule": "FREQ=WEEKLY", "timezone": "UTC",
                                            "count": 3}})
        assert answer.status_code == 201, answer.text
        series_id: str = answer.json()["id"]
        return series_id

    def webhook(self) -> str:
        """A webhook to a receiver on loopback (allowed for this test's Herald)."""
        self.herald.settings.allow_private_webhook_urls = True
        answer = self.client.post("/api/v1/webhooks", headers=self.owner, json={
            "url": "http://127.0.0.1:9/hook", "events": ["post.failed"]})
        assert answer.status_code == 201, answer.text
        webhook_id: str = answer.json()["id"]
        return webhook_id

    def delivery(self) -> tuple[str, str]:
        webhook_id = self.webhook()
        answer = self.client.post(f"/api/v1/webhooks/{webhook_id}/ping", headers=self.owner)
        assert answer.status_code in (200, 201, 202), answer.text
        delivery_id: str = answer.json()["id"]
        return webhook_id, delivery_id

    def review_link(self) -> str:
        answer = self.client.post("/api/v1/review-links", headers=self.owner,
                                  json={"post_ids": [self.draft()]})
        assert answer.status_code == 201, answer.text
        link_id: str = answer.json()["id"]
        return link_id

    def comment(self, headers: dict[str, str]) -> tuple[str, str]:
        """A comment by `headers` when they may comment, else by the owner: (post, comment)."""
        post_id = self.draft()
        answer = self.client.post(f"/api/v1/posts/{post_id}/comments", headers=headers,
                                  json={"body": "Looks good"})
        if answer.status_code != 201:
            answer = self.client.post(f"/api/v1/posts/{post_id}/comments",
                                      headers=self.owner, json={"body": "Looks good"})
        assert answer.status_code == 201, answer.text
        return post_id, answer.json()["id"]

    def sso(self) -> bool:
        """The company's single sign-on provider, set by the owner."""
        answer = self.client.put("/api/v1/company/sso", headers=self.owner, json=SSO)
        assert answer.status_code == 200, answer.text
        return True

    def invitation(self) -> str:
        answer = self.client.post("/api/v1/invitations", headers=self.owner,
                                  json={"email": "invited@example.com", "role": "viewer"})
        assert answer.status_code == 201, answer.text
        invitation_id: str = answer.json()["id"]
        return invitation_id

    def channel(self) -> tuple[str, str]:
        """A member and a chat channel of theirs."""
        from herald.services import notifications

        member_id = self.member()
        with self.herald.unit_of_work() as session:
            channel = notifications.add_channel(session, user_id=member_id, kind="chat",
                                                target=SLACK, cipher=self.herald.cipher)
            return member_id, channel.id

    def member(self) -> str:
        with self.herald.db.session() as session:
            user = users.create_user(session, company_id=self.company_id,
                                     email="member@example.com", password="a-long-password",
                                     role=Role.VIEWER)
            return user.id


Call = Callable[[Env, dict[str, str]], httpx.Response]


def _post(body: dict[str, Any]) -> Call:
    return lambda env, h: env.client.post("/api/v1/posts", headers=h, json={
        "account_id": env.account_id, "caption": "Hello", "post_type": "text", **body})


#: (method and path as in the OpenAPI document, what is tested, permission, call, ok statuses)
CASES: list[tuple[str, str, Permission, Call, tuple[int, ...]]] = [
    ("POST /api/v1/posts", "draft", P.CREATE_POSTS, _post({"draft": True}), (201,)),
    ("POST /api/v1/posts", "scheduled", P.SCHEDULE, _post({"run_at": LATER}), (201,)),
    ("POST /api/v1/posts", "now", P.PUBLISH_NOW, _post({"run_at": "now"}), (201,)),
    ("GET /api/v1/posts", "list", P.VIEW,
     lambda env, h: env.client.get("/api/v1/posts", headers=h), (200,)),
    ("GET /api/v1/posts/{post_id}", "read", P.VIEW,
     lambda env, h: env.client.get(f"/api/v1/posts/{env.draft()}", headers=h), (200,)),
    ("PATCH /api/v1/posts/{post_id}", "another's post", P.EDIT_OTHERS,
     lambda env, h: env.client.patch(f"/api/v1/posts/{env.draft()}", headers=h,
                                     json={"caption": "Edited"}), (200,)),
    ("POST /api/v1/posts/{post_id}/schedule", "one's own draft", P.SCHEDULE,
     lambda env, h: env.client.post(f"/api/v1/posts/{env.draft(h)}/schedule", headers=h,
                                    json={"run_at": LATER}), (200,)),
    ("DELETE /api/v1/posts/{post_id}", "another's post", P.EDIT_OTHERS,
     lambda env, h: env.client.delete(f"/api/v1/posts/{env.draft()}", headers=h), (200,)),
    ("POST /api/v1/posts/{post_id}/first-comment/retry", "one's own post", P.SCHEDULE,
     lambda env, h: env.client.post(f"/api/v1/posts/{env.draft(h)}/first-comment/retry",
                                    headers=h),
     (409,)),  # a draft has no failed comment: allowed, and refused for its state
    ("POST /api/v1/posts/{post_id}/retry", "one's own post", P.SCHEDULE,
     lambda env, h: env.client.post(f"/api/v1/posts/{env.draft(h)}/retry", headers=h),
     (409,)),  # a draft is not failed: allowed, and refused for its state
    ("POST /api/v1/posts/import", "drafts", P.CREATE_POSTS,
     lambda env, h: env.client.post(
         "/api/v1/posts/import", headers={**h, "content-type": "application/json"},
         json=[{"account_id": env.account_id, "caption": "Imported", "post_type": "text",
                "draft": True}]), (201,)),
    ("POST /api/v1/media", "upload", P.CREATE_POSTS,
     lambda env, h: env.client.post("/api/v1/media", headers=h, files={
         "file": ("a.jpg", jpeg_bytes(100, 100), "image/jpeg")}), (201,)),
    ("GET /api/v1/accounts", "list", P.VIEW,
     lambda env, h: env.client.get("/api/v1/accounts", headers=h), (200,)),
    ("GET /api/v1/accounts/{account_id}", "read", P.VIEW,
     lambda env, h: env.client.get(f"/api/v1/accounts/{env.account_id}", headers=h), (200,)),
    ("POST /api/v1/accounts", "connect", P.MANAGE_ACCOUNTS,
     lambda env, h: env.client.post("/api/v1/accounts", headers=h, json={
         "platform": "facebook", "external_id": "page-2", "name": "Second",
         "access_token": "t"}), (201,)),
    ("PATCH /api/v1/accounts/{account_id}", "requires_approval", P.MANAGE_ACCOUNTS,
     lambda env, h: env.client.patch(f"/api/v1/accounts/{env.account_id}", headers=h,
                                     json={"requires_approval": True}), (200,)),
    ("PUT /api/v1/accounts/{account_id}/token", "reconnect", P.MANAGE_ACCOUNTS,
     lambda env, h: env.client.put(f"/api/v1/accounts/{env.account_id}/token", headers=h,
                                   json={"access_token": "fresh"}), (200,)),
    ("DELETE /api/v1/accounts/{account_id}", "remove", P.MANAGE_ACCOUNTS,
     lambda env, h: env.client.delete(f"/api/v1/accounts/{env.account_id}", headers=h),
     (204,)),
    ("GET /api/v1/company", "read", P.VIEW,
     lambda env, h: env.client.get("/api/v1/company", headers=h), (200,)),
    ("PATCH /api/v1/company", "requires_approval", P.MANAGE_COMPANY,
     lambda env, h: env.client.patch("/api/v1/company", headers=h,
                                     json={"requires_approval": True}), (200,)),
    ("GET /api/v1/company/sso", "read", P.MANAGE_COMPANY,
     lambda env, h: env.sso() and env.client.get("/api/v1/company/sso", headers=h), (200,)),
    ("PUT /api/v1/company/sso", "set", P.MANAGE_COMPANY,
     lambda env, h: env.client.put("/api/v1/company/sso", headers=h, json=SSO), (200,)),
    ("DELETE /api/v1/company/sso", "remove", P.MANAGE_COMPANY,
     lambda env, h: env.sso() and env.client.delete("/api/v1/company/sso", headers=h),
     (204,)),
    ("GET /api/v1/members", "list", P.VIEW,
     lambda env, h: env.client.get("/api/v1/members", headers=h), (200,)),
    ("POST /api/v1/members", "add a viewer", P.MANAGE_MEMBERS,
     lambda env, h: env.client.post("/api/v1/members", headers=h, json={
         "email": "new@example.com", "password": "a-long-password", "role": "viewer"}),
     (201,)),
    ("PATCH /api/v1/members/{member_id}", "make a viewer a client", P.MANAGE_MEMBERS,
     lambda env, h: env.client.patch(f"/api/v1/members/{env.member()}", headers=h,
                                     json={"role": "client"}), (200,)),
    ("DELETE /api/v1/members/{member_id}", "remove a viewer", P.MANAGE_MEMBERS,
     lambda env, h: env.client.delete(f"/api/v1/members/{env.member()}", headers=h),
     (204,)),
    ("GET /api/v1/invitations", "list", P.MANAGE_MEMBERS,
     lambda env, h: env.client.get("/api/v1/invitations", headers=h), (200,)),
    ("POST /api/v1/invitations", "invite a viewer", P.MANAGE_MEMBERS,
     lambda env, h: env.client.post("/api/v1/invitations", headers=h, json={
         "email": "new@example.com", "role": "viewer"}), (201,)),
    ("DELETE /api/v1/invitations/{invitation_id}", "revoke", P.MANAGE_MEMBERS,
     lambda env, h: env.client.delete(f"/api/v1/invitations/{env.invitation()}", headers=h),
     (204,)),
    ("POST /api/v1/schedule-post", "scheduled", P.SCHEDULE,
     lambda env, h: env.client.post("/api/v1/schedule-post", headers=h, data={
         "run_at": LATER, "account_id": env.account_id, "caption": "Seed",
         "post_type": "text"}), (201,)),
    ("GET /api/v1/scheduled-posts", "list", P.VIEW,
     lambda env, h: env.client.get("/api/v1/scheduled-posts", headers=h), (200,)),
    ("POST /api/v1/posts/{post_id}/approve", "awaiting", P.APPROVE,
     lambda env, h: env.client.post(f"/api/v1/posts/{env.awaiting()}/approve", headers=h),
     (200,)),
    ("POST /api/v1/posts/{post_id}/reject", "awaiting", P.APPROVE,
     lambda env, h: env.client.post(f"/api/v1/posts/{env.awaiting()}/reject", headers=h,
                                    json={"reason": "Off brand"}), (200,)),
    ("GET /api/v1/posts/{post_id}/comments", "thread", P.VIEW,
     lambda env, h: env.client.get(f"/api/v1/posts/{env.draft()}/comments", headers=h),
     (200,)),
    ("POST /api/v1/posts/{post_id}/comments", "add", P.COMMENT,
     lambda env, h: env.client.post(f"/api/v1/posts/{env.draft()}/comments", headers=h,
                                    json={"body": "Nice one @owner"}), (201,)),
    ("DELETE /api/v1/posts/{post_id}/comments/{comment_id}", "one's own", P.COMMENT,
     lambda env, h: env.client.delete(
         "/api/v1/posts/{}/comments/{}".format(*env.comment(h)), headers=h), (204,)),
    ("GET /api/v1/audit", "list", P.VIEW_AUDIT,
     lambda env, h: env.client.get("/api/v1/audit", headers=h), (200,)),
    ("GET /api/v1/accounts/{account_id}/schedule", "read", P.VIEW,
     lambda env, h: env.client.get(f"/api/v1/accounts/{env.account_id}/schedule",
                                   headers=h), (200,)),
    ("PUT /api/v1/accounts/{account_id}/schedule", "set", P.SCHEDULE,
     lambda env, h: env.client.put(f"/api/v1/accounts/{env.account_id}/schedule", headers=h,
                                   json=SCHEDULE), (200,)),
    ("GET /api/v1/accounts/{account_id}/queue", "read", P.VIEW,
     lambda env, h: env.client.get(f"/api/v1/accounts/{env.account_id}/queue", headers=h),
     (200,)),
    ("POST /api/v1/accounts/{account_id}/queue/{post_id}/move", "down", P.SCHEDULE,
     lambda env, h: env.client.post(
         f"/api/v1/accounts/{env.account_id}/queue/{env.queued()}/move", headers=h,
         json={"direction": "down"}), (200,)),
    ("POST /api/v1/accounts/{account_id}/queue/shuffle", "shuffle", P.SCHEDULE,
     lambda env, h: env.client.post(f"/api/v1/accounts/{env.account_id}/queue/shuffle",
                                    headers=h), (200,)),
    ("POST /api/v1/accounts/{account_id}/queue/pause", "pause", P.SCHEDULE,
     lambda env, h: env.client.post(f"/api/v1/accounts/{env.account_id}/queue/pause",
                                    headers=h), (200,)),
    ("POST /api/v1/accounts/{account_id}/queue/resume", "resume", P.SCHEDULE,
     lambda env, h: env.client.post(f"/api/v1/accounts/{env.account_id}/queue/resume",
                                    headers=h), (200,)),
    ("POST /api/v1/series", "evergreen", P.SCHEDULE,
     lambda env, h: env.client.post("/api/v1/series", headers=h, json={
         "account_id": env.account_id, "caption": "Tip", "post_type": "text",
         "evergreen": {"categories": []}}), (201,)),
    ("GET /api/v1/series", "list", P.VIEW,
     lambda env, h: env.client.get("/api/v1/series", headers=h), (200,)),
    ("GET /api/v1/series/{series_id}", "read", P.VIEW,
     lambda env, h: env.client.get(f"/api/v1/series/{env.series()}", headers=h), (200,)),
    ("PATCH /api/v1/series/{series_id}", "caption", P.SCHEDULE,
     lambda env, h: env.client.patch(f"/api/v1/series/{env.series()}", headers=h,
                                     json={"caption": "New"}), (200,)),
    ("DELETE /api/v1/series/{series_id}", "stop", P.SCHEDULE,
     lambda env, h: env.client.delete(f"/api/v1/series/{env.series()}", headers=h),
     (200,)),
    ("DELETE /api/v1/scheduled-posts/{post_id}", "another's post", P.EDIT_OTHERS,
     lambda env, h: env.client.delete(f"/api/v1/scheduled-posts/{env.draft()}", headers=h),
     (200,)),
    ("POST /api/v1/webhooks", "add", P.MANAGE_TOKENS,
     lambda env, h: (env.webhook() and env.client.post("/api/v1/webhooks", headers=h, json={
         "url": "http://127.0.0.1:9/other", "events": ["post.failed"]})), (201,)),
    ("GET /api/v1/webhooks", "list", P.MANAGE_TOKENS,
     lambda env, h: env.client.get("/api/v1/webhooks", headers=h), (200,)),
    ("GET /api/v1/webhooks/{webhook_id}", "read", P.MANAGE_TOKENS,
     lambda env, h: env.client.get(f"/api/v1/webhooks/{env.webhook()}", headers=h), (200,)),
    ("PATCH /api/v1/webhooks/{webhook_id}", "description", P.MANAGE_TOKENS,
     lambda env, h: env.client.patch(f"/api/v1/webhooks/{env.webhook()}", headers=h,
                                     json={"description": "CRM"}), (200,)),
    ("DELETE /api/v1/webhooks/{webhook_id}", "remove", P.MANAGE_TOKENS,
     lambda env, h: env.client.delete(f"/api/v1/webhooks/{env.webhook()}", headers=h),
     (200, 204)),
    ("POST /api/v1/webhooks/{webhook_id}/rotate-secret", "rotate", P.MANAGE_TOKENS,
     lambda env, h: env.client.post(f"/api/v1/webhooks/{env.webhook()}/rotate-secret",
                                    headers=h), (200,)),
    ("POST /api/v1/webhooks/{webhook_id}/ping", "ping", P.MANAGE_TOKENS,
     lambda env, h: env.client.post(f"/api/v1/webhooks/{env.webhook()}/ping", headers=h),
     (200, 201, 202)),
    ("GET /api/v1/webhooks/{webhook_id}/deliveries", "log", P.MANAGE_TOKENS,
     lambda env, h: env.client.get(f"/api/v1/webhooks/{env.webhook()}/deliveries",
                                   headers=h), (200,)),
    ("POST /api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", "redeliver",
     P.MANAGE_TOKENS,
     lambda env, h: env.client.post(
         "/api/v1/webhooks/{}/deliveries/{}/redeliver".format(*env.delivery()), headers=h),
     (409,)),  # the ping's delivery is still pending: allowed, and refused for its state
    ("POST /api/v1/review-links", "a post", P.MANAGE_REVIEW_LINKS,
     lambda env, h: env.client.post("/api/v1/review-links", headers=h,
                                    json={"post_ids": [env.draft()]}), (201,)),
    ("POST /api/v1/review-links", "a date range", P.MANAGE_REVIEW_LINKS,
     lambda env, h: env.client.post("/api/v1/review-links", headers=h, json={
         "from": "2030-01-01T00:00:00Z", "to": "2030-01-08T00:00:00Z"}), (201,)),
    ("GET /api/v1/review-links", "list", P.MANAGE_REVIEW_LINKS,
     lambda env, h: env.client.get("/api/v1/review-links", headers=h), (200,)),
    ("DELETE /api/v1/review-links/{link_id}", "revoke", P.MANAGE_REVIEW_LINKS,
     lambda env, h: env.client.delete(f"/api/v1/review-links/{env.review_link()}",
                                      headers=h), (204,)),
    ("GET /api/v1/members/{member_id}/notifications", "read", P.MANAGE_MEMBERS,
     lambda env, h: env.client.get(f"/api/v1/members/{env.member()}/notifications",
                                   headers=h), (200,)),
    ("PUT /api/v1/members/{member_id}/notifications", "choose", P.MANAGE_MEMBERS,
     lambda env, h: env.client.put(f"/api/v1/members/{env.member()}/notifications",
                                   headers=h, json={"events": ["post.failed"]}), (200,)),
    ("POST /api/v1/members/{member_id}/notifications/channels", "add chat", P.MANAGE_MEMBERS,
     lambda env, h: env.client.post(f"/api/v1/members/{env.member()}/notifications/channels",
                                    headers=h, json={"kind": "chat", "target": SLACK}),
     (201,)),
    ("DELETE /api/v1/members/{member_id}/notifications/channels/{channel_id}", "remove",
     P.MANAGE_MEMBERS,
     lambda env, h: env.client.delete(
         "/api/v1/members/{}/notifications/channels/{}".format(*env.channel()), headers=h),
     (204,)),
    ("POST /api/v1/members/{member_id}/notifications/channels/{channel_id}/test", "test",
     P.MANAGE_MEMBERS,
     lambda env, h: env.client.post(
         "/api/v1/members/{}/notifications/channels/{}/test".format(*env.channel()),
         headers=h), (202,)),
]


@pytest.fixture
def env(client, herald, company) -> Env:
    account_id = add_account(herald, company[0])
    return Env(client, herald, company[0], {"Authorization": f"Bearer {company[1]}"},
               account_id)


def _ids(case: tuple[str, str, Permission, Call, tuple[int, ...]]) -> str:
    return f"{case[0]} ({case[1]})"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_a_role_with_the_permission_may(env, case):
    _, _, permission, call, ok = case
    answer = call(env, env.as_role(weakest_with(permission)))
    assert answer.status_code in ok, answer.text


@pytest.mark.parametrize("case", [c for c in CASES if strongest_without(c[2]) is not None],
                         ids=_ids)
def test_a_role_without_the_permission_is_refused_with_a_403_naming_it(env, case):
    _, _, permission, call, _ = case
    role = strongest_without(permission)
    assert role is not None
    answer = call(env, env.as_role(role))
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["code"] == "forbidden"
    assert f"'{permission}'" in error["message"] and f"'{role}'" in error["message"]
    assert error["details"] == [{"permission": permission.value}]


def test_every_api_route_has_a_permission_case(client):
    routes = {f"{method.upper()} {path}" for path, ops in client.app.openapi()["paths"].items()
              if path.startswith("/api/") for method in ops}
    covered = {case[0] for case in CASES}
    assert routes - covered == set(), (
        "a route has no role test: add it to CASES in tests/app/test_roles.py with the "
        "permission its service checks")


def test_inviting_a_role_stronger_than_ones_own_is_refused(env):
    answer = env.client.post("/api/v1/invitations", headers=env.as_role(Role.ADMIN),
                             json={"email": "boss@example.com", "role": "owner"})
    assert answer.status_code == 403
    assert "'manage_company'" in answer.json()["error"]["message"]


def test_a_member_limited_to_some_accounts_sees_and_posts_to_those_only(client, herald,
                                                                          company):
    from herald.errors import Forbidden, NotFound
    from herald.schemas import PostCreate
    from tests.helpers import add_posts

    mine = add_account(herald, company[0], external_id="page-mine")
    other = add_account(herald, company[0], external_id="page-other")
    (theirs,) = add_posts(herald, company[0], other, run_at=LATER, post_type="text")
    owner = {"Authorization": f"Bearer {company[1]}"}
    member = client.post("/api/v1/members", headers=owner, json={
        "email": "ig@example.com", "password": "a-long-password", "role": "contributor",
        "account_ids": [mine]}).json()
    assert member["account_ids"] == [mine]
    missing = client.post("/api/v1/members", headers=owner, json={
        "email": "x@example.com", "password": "a-long-password", "account_ids": ["nope"]})
    assert missing.status_code == 404
    ctx = herald.context(company[0], actor="web:ig@example.com", role=Role.CONTRIBUTOR,
                         account_ids=frozenset({mine}))
    with herald.unit_of_work() as session:
        services.create_posts(session, ctx, PostCreate(account_id=mine, caption="ok",
                                                       post_type="text", draft=True))
        with pytest.raises(Forbidden, match="access to the account"):
            services.create_posts(session, ctx, PostCreate(
                account_id=other, caption="no", post_type="text", draft=True))
    with herald.db.session() as session:
        assert [a.id for a, _ in services.list_accounts(session, ctx)] == [mine]
        listed, _ = services.list_posts(session, ctx, services.PostFilters())
        assert {p.account_id for p in listed} == {mine}
        with pytest.raises(NotFound):
            services.get_post(session, ctx, theirs)
        with pytest.raises(NotFound):
            services.get_account(session, ctx, other)


def test_a_contributor_calling_the_members_api_is_refused_naming_the_permission(env):
    contributor = env.as_role(Role.CONTRIBUTOR)
    for answer in (
            env.client.post("/api/v1/members", headers=contributor, json={
                "email": "x@example.com", "password": "a-long-password"}),
            env.client.patch(f"/api/v1/members/{env.member()}", headers=contributor,
                             json={"role": "owner"})):
        assert answer.status_code == 403
        assert "'manage_members'" in answer.json()["error"]["message"]


def test_an_admin_may_not_make_an_owner_nor_remove_the_last_owner(env):
    admin = env.as_role(Role.ADMIN)
    member = env.member()
    raised = env.client.patch(f"/api/v1/members/{member}", headers=admin,
                              json={"role": "owner"})
    assert raised.status_code == 403 and "'manage_company'" in raised.text
    owner_id = env.client.post("/api/v1/members", headers=env.owner, json={
        "email": "boss@example.com", "password": "a-long-password", "role": "owner"}
    ).json()["id"]
    assert env.client.delete(f"/api/v1/members/{owner_id}", headers=admin).status_code == 403
    last = env.client.delete(f"/api/v1/members/{owner_id}", headers=env.owner)
    assert last.status_code == 409 and "needs an owner" in last.text
