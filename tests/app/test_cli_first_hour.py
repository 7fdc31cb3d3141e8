"""The CLI as a new user meets it: which company, listing companies and tokens, exit codes,
help that tells the truth (issue 17, the first hour). In process, with typer's runner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from herald import services
from herald.cli import app
from tests.conftest import SECRET
from tests.helpers import add_account, add_posts


def _run(database_url: str, *args: str, **env: str):
    return CliRunner().invoke(app, list(args), env={
        "HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET,
        "HERALD_COMPANY": "", **env})


@pytest.fixture
def two_companies(herald):
    with herald.unit_of_work() as session:
        first, _ = services.create_company(session, name="My company")
        second, _ = services.create_company(session, name="Beta Ltd")
        return first.id, second.id


def test_company_list_prints_every_company(herald, two_companies, database_url):
    result = _run(database_url, "company", "list", "--json")
    assert result.exit_code == 0, result.output
    assert [c["name"] for c in json.loads(result.stdout)] == ["My company", "Beta Ltd"]
    text = _run(database_url, "company", "list").stdout
    assert f"{two_companies[1]}  Beta Ltd" in text


def test_company_by_name_prefix_or_environment(herald, two_companies, database_url):
    first, second = two_companies
    # With two companies and no --company, the error says how to choose.
    result = _run(database_url, "token", "list")
    assert result.exit_code == 2
    assert "--company" in result.output and "herald company list" in result.output
    for ref in ("beta ltd", second[:8], second):
        result = _run(database_url, "token", "list", "--company", ref, "--json")
        assert result.exit_code == 0, (ref, result.output)
        assert len(json.loads(result.stdout)) == 1
    result = _run(database_url, "token", "create", "--json", HERALD_COMPANY="Beta Ltd")
    assert json.loads(result.stdout)["company_id"] == second
    result = _run(database_url, "token", "list", "--company", "nobody")
    assert result.exit_code == 2 and "No company has the id, name or id prefix" in result.output
    assert first != second


def test_an_id_prefix_shared_by_two_companies_is_refused(herald, database_url):
    from herald.models import Company, utcnow

    with herald.unit_of_work() as session:
        for cid in ("abc-1", "abc-2"):
            session.add(Company(id=cid, name=cid.upper(), timezone="UTC", created_at=utcnow()))
    result = _run(database_url, "token", "list", "--company", "abc")
    assert result.exit_code == 2
    assert "could be any of 2 companies" in result.output


def test_token_list_shows_the_prefix_revoke_takes(herald, company, database_url):
    listed = json.loads(_run(database_url, "token", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["default"]
    prefix = listed[0]["prefix"]
    assert company[1].startswith(prefix)
    assert prefix in _run(database_url, "token", "list").stdout
    assert _run(database_url, "token", "revoke", prefix).exit_code == 0
    again = json.loads(_run(database_url, "token", "list", "--json").stdout)
    assert again[0]["revoked_at"] is not None
    assert "revoked" in _run(database_url, "token", "list").stdout


def test_run_once_exits_1_when_a_post_failed(herald, company, database_url):
    from herald.platforms.fake import FakeServer

    account = add_account(herald, company[0], "facebook", "1001")
    add_posts(herald, company[0], account)
    with FakeServer() as fake:  # knows no page 1001: the token is refused, the post fails
        result = _run(database_url, "run-once", "--json",
                      HERALD_GRAPH_API_URL=fake.graph_url)
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["failed"] == 1


def test_run_once_exits_0_when_nothing_failed(herald, company, database_url):
    result = _run(database_url, "run-once", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["claimed"] == 0


@pytest.mark.parametrize("command", [["run-once"], ["posts", "list"], ["status"],
                                     ["user", "create"], ["token", "list"]])
def test_help_shows_flags_as_flags(command):
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert "--json" in result.output
    assert "<bool>" not in result.output
