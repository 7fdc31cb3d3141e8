"""`herald posts import FILE [--dry-run] [--company ID]` (herald.cli_import), in process."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select
from typer.testing import CliRunner

from herald.cli import app
from herald.models import Post, utcnow
from tests.conftest import SECRET
from tests.helpers import add_account


def _env(database_url: str) -> dict[str, str]:
    return {"HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET,
            "HERALD_ALLOW_PRIVATE_MEDIA_URLS": "true"}


def _count(herald) -> int:
    with herald.db.session() as s:
        return s.scalar(select(func.count()).select_from(Post))


def _file(tmp_path, *rows: str):
    path = tmp_path / "posts.csv"
    path.write_text("account,run_at,caption\n" + "\n".join(rows) + "\n")
    return path


def test_dry_run_then_import(herald, company, database_url, tmp_path):
    account = add_account(herald, company[0])
    when = (utcnow() + timedelta(hours=2)).isoformat()
    path = _file(tmp_path, *[f"{account},{when},Post {n}" for n in range(3)])
    dry = CliRunner().invoke(app, ["posts", "import", str(path), "--dry-run"],
                             env=_env(database_url))
    assert dry.exit_code == 0, dry.output
    assert "3 rows are valid" in dry.output
    assert _count(herald) == 0
    done = CliRunner().invoke(app, ["posts", "import", str(path), "--company", company[0],
                                    "--json"], env=_env(database_url))
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["posts"] == 3
    assert _count(herald) == 3


def test_bad_rows_are_listed_and_nothing_is_stored(herald, company, database_url, tmp_path):
    account = add_account(herald, company[0])
    when = (utcnow() + timedelta(hours=2)).isoformat()
    path = _file(tmp_path, f"{account},{when},fine", f"{account},tomorrow,bad")
    result = CliRunner().invoke(app, ["posts", "import", str(path)], env=_env(database_url))
    assert result.exit_code == 1
    assert "row 2 (line 3)" in result.output and "'tomorrow' is not an ISO 8601" in result.output
    assert "Nothing was imported" in result.output
    assert _count(herald) == 0


def test_an_unknown_column_is_an_error(herald, company, database_url, tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("account,when\nx,y\n")
    result = CliRunner().invoke(app, ["posts", "import", str(path)], env=_env(database_url))
    assert result.exit_code == 1
    assert "Unknown column 'when'" in result.output


def test_a_file_over_the_size_limit_is_refused_and_nothing_is_stored(herald, company,
                                                                    database_url, tmp_path):
    account = add_account(herald, company[0])
    when = (utcnow() + timedelta(hours=2)).isoformat()
    path = _file(tmp_path, *[f"{account},{when},{'x' * 100}"] * 20)
    env = {**_env(database_url), "HERALD_MAX_IMPORT_BYTES": "1000"}
    result = CliRunner().invoke(app, ["posts", "import", str(path), "--dry-run"], env=env)
    assert result.exit_code == 2, result.output
    assert "Herald imports at most 1,000 (HERALD_MAX_IMPORT_BYTES)" in result.output
    result = CliRunner().invoke(app, ["posts", "import", str(path)], env=env)
    assert result.exit_code == 2, result.output
    assert _count(herald) == 0
