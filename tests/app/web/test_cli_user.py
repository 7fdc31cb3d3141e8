"""`herald user create|list` (herald.web.cli.user_app, which herald.cli mounts as `user`)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from herald.web import users
from herald.web.cli import user_app
from tests.app.web.conftest import sign_in
from tests.conftest import SECRET


def _env(database_url: str) -> dict[str, str]:
    return {"HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET}


def test_user_create_reads_the_password_from_stdin(herald, company, database_url):
    result = CliRunner().invoke(user_app, [
        "create", "--company", company[0], "--email", "Ada@Example.com", "--name", "Ada",
        "--password-stdin", "--json"], input="a long password\n", env=_env(database_url))
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["email"] == "ada@example.com"
    with herald.db.session() as session:
        assert users.authenticate(session, email="ada@example.com",
                                  password="a long password").id == created["id"]
    listed = CliRunner().invoke(user_app, ["list", "--json"], env=_env(database_url))
    assert [u["email"] for u in json.loads(listed.stdout)] == ["ada@example.com"]


def test_user_create_says_what_is_wrong(herald, company, database_url):
    result = CliRunner().invoke(user_app, [
        "create", "--email", "ada@example.com", "--password-stdin"], input="short\n",
        env=_env(database_url))
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output


def test_set_password_and_remove_end_the_users_sessions(herald, member, web, database_url):
    sign_in(web, member.email)
    result = CliRunner().invoke(user_app, [
        "set-password", "--email", member.email.upper(), "--password-stdin"],
        input="a brand new password\n", env=_env(database_url))
    assert result.exit_code == 0, result.output
    assert web.get("/").status_code == 303
    sign_in(web, member.email, "a brand new password")
    result = CliRunner().invoke(user_app, ["remove", "--email", member.email],
                                env=_env(database_url))
    assert result.exit_code == 0, result.output
    assert web.get("/").status_code == 303
    with herald.db.session() as session:
        assert users.list_members(session, company_id=member.company_id) == []


def test_set_password_refuses_unknown_users_and_short_passwords(herald, member, database_url):
    for email, password in (("nobody@example.com", "a long password"), (member.email, "short")):
        result = CliRunner().invoke(user_app, [
            "set-password", "--email", email, "--password-stdin"], input=f"{password}\n",
            env=_env(database_url))
        assert result.exit_code == 1, result.output


def test_user_create_takes_a_role_and_defaults_to_owner_then_editor(herald, company,
                                                                     database_url):
    def create(email: str, *role: str) -> dict[str, str]:
        result = CliRunner().invoke(user_app, [
            "create", "--email", email, "--password-stdin", "--json", *role],
            input="a long password\n", env=_env(database_url))
        assert result.exit_code == 0, result.output
        created: dict[str, str] = json.loads(result.stdout)
        return created

    assert create("first@example.com")["role"] == "owner"
    assert create("second@example.com")["role"] == "editor"
    assert create("third@example.com", "--role", "contributor")["role"] == "contributor"
    refused = CliRunner().invoke(user_app, [
        "create", "--email", "x@example.com", "--password-stdin", "--role", "intern"],
        input="a long password\n", env=_env(database_url))
    assert refused.exit_code == 1 and "not a role" in refused.output
    listed = json.loads(CliRunner().invoke(user_app, ["list", "--json"],
                                           env=_env(database_url)).stdout)
    assert [u["role"] for u in listed] == ["owner", "editor", "contributor"]


def test_user_create_can_limit_a_member_to_some_accounts(herald, company, database_url):
    from tests.helpers import add_account

    account_id = add_account(herald, company[0])
    result = CliRunner().invoke(user_app, [
        "create", "--email", "ig@example.com", "--password-stdin", "--json", "--role",
        "contributor", "--account", account_id], input="a long password\n",
        env=_env(database_url))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["account_ids"] == [account_id]
    wrong = CliRunner().invoke(user_app, [
        "create", "--email", "x@example.com", "--password-stdin", "--account", "nope"],
        input="a long password\n", env=_env(database_url))
    assert wrong.exit_code == 1 and "No account" in wrong.output
