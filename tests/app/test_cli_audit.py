"""`herald audit`: the audit log from the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from herald import services
from herald.cli import app
from tests.conftest import SECRET
from tests.helpers import add_account


def _env(database_url: str) -> dict[str, str]:
    return {"HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET}


def test_audit_lists_entries_with_filters(herald, company, database_url):
    account_id = add_account(herald, company[0])
    with herald.unit_of_work() as session:
        services.update_account_settings(session, herald.context(company[0], actor="cli"),
                                         account_id, requires_approval=True)
    listed = CliRunner().invoke(app, ["audit", "--json"], env=_env(database_url))
    assert listed.exit_code == 0, listed.output
    assert [e["action"] for e in json.loads(listed.stdout)] == ["account.settings",
                                                                "account.connected"]
    only = CliRunner().invoke(app, ["audit", "--action", "account.settings"],
                              env=_env(database_url))
    assert "account.settings" in only.stdout and "account.connected" not in only.stdout
    assert '"requires_approval": true' in only.stdout
    wrong = CliRunner().invoke(app, ["audit", "--action", "post.exploded"],
                               env=_env(database_url))
    assert wrong.exit_code == 1 and "unknown action" in wrong.output
