"""Agencies: one person in several companies with a role in each, the company switcher,
invitations by e-mail link, and removal that ends a signed-in member's sessions at once."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text, update

from herald import migrate, services
from herald.config import Settings
from herald.models import utcnow
from herald.permissions import Role
from herald.services import memberships
from herald.team_models import Invitation, Membership
from herald.web import users
from tests.app.web.conftest import PASSWORD, Browser, add_member, csrf_of, sign_in
from tests.conftest import mail_settings
from tests.smtp_server import Mailbox


@pytest.fixture
def settings(database_url: str, tmp_path: Path, mailbox: Mailbox) -> Settings:
    return mail_settings(database_url, tmp_path, mailbox,
                         public_url="http://herald.example.test")


def _second_company(herald, name: str = "Globex") -> tuple[str, str]:
    with herald.db.session() as session:
        created, token = services.create_company(session, name=name)
        return created.id, token


def _join(herald, user_id: str, company_id: str, role: Role) -> None:
    with herald.unit_of_work() as session:
        user = users.get_user(session, user_id)
        memberships.join(session, user=user, company_id=company_id, role=role)


def _switch(browser: Browser, company_id: str):
    return browser.post("/switch-company", {"company_id": company_id})


@pytest.mark.all_engines
def test_migration_gives_every_existing_user_their_membership(herald, company):
    config = migrate.alembic_config()
    with herald.db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0018")  # the revision before memberships (0019)
    with herald.db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (id, company_id, email, name, password_hash, created_at, "
            "session_generation, role, account_ids) VALUES ('u1', :c, 'ada@example.com', "
            "'Ada', 'x', :at, 0, 'contributor', :ids)"),
            {"c": company[0], "at": utcnow().replace(tzinfo=None), "ids": '["acc-1"]'})
    migrate.upgrade(herald.db.engine)
    with herald.db.session() as session:
        row = session.scalars(select(Membership)).one()
        assert (row.user_id, row.company_id, row.role, row.account_ids) == (
            "u1", company[0], "contributor", ["acc-1"])


def test_one_person_has_a_different_role_in_each_company(web, herald, company):
    ada = add_member(herald, company[0])  # the first member: owner of Acme
    globex, _ = _second_company(herald)
    _join(herald, ada.id, globex, Role.VIEWER)
    browser = sign_in(web, ada.email)
    home = browser.get("/settings").text
    assert 'id="switch-company"' in home and "Globex" in home
    assert "Invite by e-mail" in home  # an owner manages members in Acme
    moved = _switch(browser, globex)
    assert moved.status_code == 303
    there = browser.get("/settings").text
    assert "Members of Globex" in there
    assert "Invite by e-mail" not in there  # a viewer in Globex
    assert browser.get("/audit").status_code == 403


def test_switching_to_a_company_without_membership_is_refused(web, herald, company):
    ada = add_member(herald, company[0])
    other, _ = _second_company(herald, "Initech")
    browser = sign_in(web, ada.email)
    refused = _switch(browser, other)
    assert refused.status_code == 403
    assert "not a member" in refused.text
    assert "Members of Acme" in browser.get("/settings").text


@pytest.mark.all_engines
def test_a_member_removed_while_working_in_that_company_is_signed_out_at_once(
        web, herald, company):
    owner = add_member(herald, company[0])
    globex, _ = _second_company(herald)
    bob = add_member(herald, globex, "bob@example.com")  # Bob's home: Globex
    _join(herald, bob.id, company[0], Role.EDITOR)
    browser = sign_in(web, bob.email)
    assert _switch(browser, company[0]).status_code == 303
    assert browser.get("/posts").status_code == 200
    with herald.unit_of_work() as session:
        services.remove_member(session, herald.context(company[0], actor="web:" + owner.email),
                               bob.id)
    gone = browser.get("/posts")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/signin")
    # Still a member of Globex: signing in again works, and lands there.
    again = sign_in(web, bob.email)
    assert "Members of Globex" in again.get("/settings").text
    assert _switch(again, company[0]).status_code == 403


@pytest.mark.all_engines
def test_removed_from_the_home_company_they_keep_their_other_one(herald, company):
    add_member(herald, company[0])
    globex, _ = _second_company(herald)
    bob = add_member(herald, company[0], "bob@example.com")
    _join(herald, bob.id, globex, Role.CONTRIBUTOR)
    with herald.unit_of_work() as session:
        services.remove_member(session, herald.context(company[0]), bob.id)
    with herald.db.session() as session:
        user = users.get_user(session, bob.id)
        assert user is not None
        assert (user.company_id, user.role) == (globex, "contributor")
        assert [m.email for m in services.list_members(session, herald.context(company[0]))
                ] == ["ada@example.com"]


@pytest.mark.all_engines
def test_members_api_shows_the_role_in_the_callers_company(client, herald, company):
    globex, globex_token = _second_company(herald)
    ada = add_member(herald, company[0])
    _join(herald, ada.id, globex, Role.CLIENT)
    acme = client.get("/api/v1/members", headers={"Authorization": f"Bearer {company[1]}"})
    there = client.get("/api/v1/members", headers={"Authorization": f"Bearer {globex_token}"})
    assert [(m["email"], m["role"]) for m in acme.json()] == [("ada@example.com", "owner")]
    assert [(m["email"], m["role"]) for m in there.json()] == [("ada@example.com", "client")]


# Invitations -------------------------------------------------------------------------

def _invite(client, token: str, email: str = "new@example.com", **extra):
    return client.post("/api/v1/invitations", headers={"Authorization": f"Bearer {token}"},
                       json={"email": email, **extra})


def _token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.mark.all_engines
def test_an_invitation_is_mailed_and_makes_a_new_user_a_member(web, herald, company,
                                                                 mailbox):
    made = _invite(web, company[1], role="contributor")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["status"] == "pending" and body["email_sent"] is True
    assert body["url"].startswith("http://herald.example.test/invitations/inv_")
    message = mailbox.wait_for(1)[0]
    assert message["To"] == "new@example.com" and "Acme" in message["Subject"]
    assert body["url"] in message.get_content()
    path = "/invitations/" + _token_of(body["url"])
    form = web.get(path)
    assert form.status_code == 200 and "Choose a password" in form.text
    joined = web.post(path + "/accept", data={"csrf_token": csrf_of(form.text),
                                              "name": "Newt", "password": PASSWORD})
    assert joined.status_code == 303, joined.text
    assert "Members of Acme" in web.get("/settings").text  # signed in, in Acme
    with herald.db.session() as session:
        member = [m for m in services.list_members(session, herald.context(company[0]))
                  if m.email == "new@example.com"]
        assert member[0].role == "contributor"
    listed = web.get("/api/v1/invitations", headers={"Authorization": f"Bearer {company[1]}"})
    assert listed.json()[0]["status"] == "accepted"
    # Once only.
    again = web.get(path)
    assert again.status_code == 409 and "accepted" in again.text


@pytest.mark.all_engines
def test_a_signed_in_agency_user_accepts_into_a_second_company(web, herald, company):
    globex, globex_token = _second_company(herald)
    ada = add_member(herald, company[0])
    url = _invite(web, globex_token, ada.email, role="editor").json()["url"]
    browser = sign_in(web, ada.email)
    path = "/invitations/" + _token_of(url)
    assert "Join Globex" in browser.get(path).text
    assert browser.post(path + "/accept").status_code == 303
    assert "Members of Globex" in browser.get("/settings").text  # switched to it
    assert _switch(browser, company[0]).status_code == 303
    with herald.db.session() as session:
        assert memberships.find(session, user_id=ada.id, company_id=globex).role == "editor"


def test_an_existing_user_who_is_not_signed_in_is_asked_to_sign_in(web, herald, company):
    _globex, globex_token = _second_company(herald)
    ada = add_member(herald, company[0])
    path = "/invitations/" + _token_of(_invite(web, globex_token, ada.email).json()["url"])
    page = web.get(path)
    assert f"/signin?next={path}" in page.text
    # A password typed here does not make a second account or join anyone.
    refused = web.post(path + "/accept", data={"csrf_token": csrf_of(web.get("/signin").text),
                                               "password": "someone elses"})
    assert refused.status_code == 422 and "Sign in as" in refused.text


def test_an_invitation_for_someone_else_is_refused_to_a_signed_in_user(web, herald, company):
    globex, globex_token = _second_company(herald)
    ada = add_member(herald, company[0])
    path = "/invitations/" + _token_of(_invite(web, globex_token, "bob@example.com").json()[
        "url"])
    browser = sign_in(web, ada.email)
    refused = browser.post(path + "/accept")
    assert refused.status_code == 403 and "bob@example.com" in refused.text
    with herald.db.session() as session:
        assert memberships.find(session, user_id=ada.id, company_id=globex) is None


@pytest.mark.all_engines
def test_an_expired_invitation_is_refused(web, herald, company):
    body = _invite(web, company[1]).json()
    with herald.unit_of_work() as session:
        session.execute(update(Invitation).where(Invitation.id == body["id"])
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    path = "/invitations/" + _token_of(body["url"])
    page = web.get(path)
    assert page.status_code == 409 and "expired" in page.text
    csrf = csrf_of(web.get("/signin").text)
    refused = web.post(path + "/accept", data={"csrf_token": csrf, "password": PASSWORD})
    assert refused.status_code == 409
    with herald.db.session() as session:
        assert not users.any_user_with(session, "new@example.com")
    listed = web.get("/api/v1/invitations", headers={"Authorization": f"Bearer {company[1]}"})
    assert listed.json()[0]["status"] == "expired"


def test_a_revoked_invitation_is_refused(web, herald, company):
    body = _invite(web, company[1]).json()
    revoked = web.delete(f"/api/v1/invitations/{body['id']}",
                         headers={"Authorization": f"Bearer {company[1]}"})
    assert revoked.status_code == 204
    page = web.get("/invitations/" + _token_of(body["url"]))
    assert page.status_code == 409 and "revoked" in page.text


def test_a_made_up_invitation_link_is_not_found(web):
    assert web.get("/invitations/inv_nothing").status_code == 404


def test_another_companys_invitation_cannot_be_revoked(web, herald, company):
    _, globex_token = _second_company(herald)
    body = _invite(web, company[1]).json()
    answer = web.delete(f"/api/v1/invitations/{body['id']}",
                        headers={"Authorization": f"Bearer {globex_token}"})
    assert answer.status_code == 404


@pytest.mark.parametrize("email", ["not-an-address", "a@b", ""])
def test_an_invitation_needs_an_address(web, company, email):
    assert _invite(web, company[1], email).status_code == 422


def test_inviting_a_member_again_is_a_conflict(web, herald, company):
    add_member(herald, company[0])
    answer = _invite(web, company[1], "ada@example.com")
    assert answer.status_code == 409 and "member already" in answer.text


def test_an_invitation_is_audited_and_so_is_its_acceptance(web, herald, company):
    body = _invite(web, company[1]).json()
    form = web.get("/invitations/" + _token_of(body["url"]))
    web.post("/invitations/" + _token_of(body["url"]) + "/accept",
             data={"csrf_token": csrf_of(form.text), "password": PASSWORD})
    entries = web.get("/api/v1/audit", headers={"Authorization": f"Bearer {company[1]}"}
                      ).json()["items"]
    actions = [(e["action"], e["actor"]) for e in entries]
    assert ("member.added", "web:new@example.com") in actions
    assert any(a == "member.invited" for a, _ in actions)


def test_the_settings_page_invites_and_shows_the_link_once(web, herald, company, mailbox):
    ada = add_member(herald, company[0])
    browser = sign_in(web, ada.email)
    page = browser.post("/settings/invitations", {"email": "cleo@example.com",
                                                  "role": "client"})
    assert page.status_code == 200
    url = re.search(r'<code id="invitation-url">([^<]+)</code>', page.text)
    assert url and url.group(1).startswith("http://herald.example.test/invitations/")
    assert mailbox.wait_for(1)[0]["To"] == "cleo@example.com"
    row_id = web.get("/api/v1/invitations", headers={
        "Authorization": f"Bearer {company[1]}"}).json()[0]["id"]
    assert browser.post(f"/settings/invitations/{row_id}/revoke").status_code == 303
    assert "revoked" in browser.get("/settings").text


def test_herald_user_invite_mails_and_prints_the_link(herald, company, database_url,
                                                       mailbox):
    import json

    from typer.testing import CliRunner

    from herald.web.cli import user_app
    from tests.conftest import SECRET

    env = {"HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET,
           "HERALD_SMTP_HOST": "127.0.0.1", "HERALD_SMTP_PORT": str(mailbox.port),
           "HERALD_SMTP_SECURITY": "none", "HERALD_PUBLIC_URL": "http://herald.example.test"}
    result = CliRunner().invoke(user_app, ["invite", "--company", company[0], "--email",
                                           "Dan@Example.com", "--role", "client", "--json"],
                                env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["email"], out["role"], out["email_sent"]) == ("dan@example.com", "client",
                                                              True)
    assert out["url"] in mailbox.wait_for(1)[0].get_content()
    bad = CliRunner().invoke(user_app, ["invite", "--company", company[0], "--email",
                                        "dan@example.com", "--role", "boss"], env=env)
    assert bad.exit_code == 1 and "is not a role" in bad.output
