"""`herald schedule set|show ACCOUNT` (herald.cli_schedule), in process."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from herald.cli import app
from tests.conftest import SECRET
from tests.helpers import add_account


def _env(database_url: str) -> dict[str, str]:
    return {"HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET}


def test_set_then_show(herald, company, database_url):
    account = add_account(herald, company[0])
    result = CliRunner().invoke(app, [
        "schedule", "set", account, "--timezone", "Europe/Berlin",
        "--slot", "mon-fri 09:00,17:30", "--slot", "sat 11:00"], env=_env(database_url))
    assert result.exit_code == 0, result.output
    assert "  mon  09:00, 17:30" in result.output and "  sat  11:00" in result.output
    shown = CliRunner().invoke(app, ["schedule", "show", account, "--json"],
                               env=_env(database_url))
    assert shown.exit_code == 0, shown.output
    out = json.loads(shown.output)
    assert out["timezone"] == "Europe/Berlin" and len(out["slots"]) == 11


def test_bad_slots_and_zones_are_one_line(herald, company, database_url):
    account = add_account(herald, company[0])
    for args, words in [(["--slot", "mon 25:00"], "slot time '25:00' is not a time of day"),
                        (["--slot", "mon"], "needs days and times"),
                        (["--slot", "mon 09:00", "--timezone", "Nowhere/Land"],
                         "unknown time zone 'Nowhere/Land'")]:
        result = CliRunner().invoke(app, ["schedule", "set", account, *args],
                                    env=_env(database_url))
        assert result.exit_code == 1, result.output
        assert words in result.output
    shown = CliRunner().invoke(app, ["schedule", "show", account], env=_env(database_url))
    assert "has no posting schedule" in shown.output
