"""`herald token create --company ID --role ROLE`: the token acts with that role."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from herald.cli import app
from tests.conftest import SECRET


def _env(database_url: str) -> dict[str, str]:
    return {"HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET}


def test_a_viewer_token_reads_and_may_not_write(client, company, database_url):
    result = CliRunner().invoke(app, ["token", "create", "--company", company[0], "--name",
                                      "dashboard", "--role", "viewer", "--json"],
                                env=_env(database_url))
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made["role"] == "viewer"
    auth = {"Authorization": f"Bearer {made['api_token']}"}
    assert client.get("/api/v1/posts", headers=auth).status_code == 200
    refused = client.post("/api/v1/accounts", headers=auth, json={
        "platform": "facebook", "external_id": "p", "name": "P", "access_token": "t"})
    assert refused.status_code == 403
    assert "'manage_accounts'" in refused.json()["error"]["message"]


def test_a_token_without_a_role_is_an_owner_and_a_wrong_role_is_refused(company,
                                                                       database_url):
    made = CliRunner().invoke(app, ["token", "create", "--company", company[0], "--json"],
                              env=_env(database_url))
    assert json.loads(made.stdout)["role"] == "owner"
    wrong = CliRunner().invoke(app, ["token", "create", "--company", company[0], "--role",
                                     "boss"], env=_env(database_url))
    assert wrong.exit_code == 1 and "not a role" in wrong.output
