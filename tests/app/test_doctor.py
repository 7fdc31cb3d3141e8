"""`herald doctor` (issue 17, #7): a healthy install is fine; a broken one names each
fault and what to fix."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from herald import doctor
from herald.app import create_app
from herald.cli import app
from herald.crypto import TokenCipher
from herald.models import SocialAccount, SocialToken, utcnow
from tests.conftest import SECRET, make_settings
from tests.helpers import add_account

TODAY = date(2026, 12, 3)


@pytest.fixture
def served(herald):
    """Fetches media URLs from the running app, as the platforms would."""
    with TestClient(create_app(herald)) as client:
        def fetch(url: str) -> httpx.Response:
            return client.get(httpx.URL(url).path)

        yield fetch


def _levels(findings):
    return {(f.check, f.level) for f in findings}


def _failed(findings):
    return [f.message for f in findings if f.level != doctor.Level.OK]


def test_a_healthy_install_is_fine(herald, company, served):
    add_account(herald, company[0], "facebook", "1001")
    findings = doctor.diagnose(today=TODAY, fetch=served, settings=herald.settings)
    assert _failed(findings) == []
    assert doctor.exit_status(findings) == 0
    checks = [f.check for f in findings]
    for check in ("configuration", "secret key", "database", "migrations", "media store",
                  "API version", "tokens"):
        assert check in checks
    [media] = [f for f in findings if f.check == "media store"]
    assert "written and read back at http://testserver/media/" in media.message
    assert "1 of 1 account(s) have a usable token" in findings[-1].message


def test_each_fault_of_a_broken_install_is_named(herald, company, served, tmp_path):
    ok = add_account(herald, company[0], "facebook", "1001")
    reauth = add_account(herald, company[0], "facebook", "1002")
    expired = add_account(herald, company[0], "facebook", "1003")
    soon = add_account(herald, company[0], "facebook", "1004")
    add_account(replace(herald, cipher=TokenCipher("another-key-9b74c9897bac770ffc029102a200c5de")),
                company[0], "facebook", "1005")
    now = utcnow()
    with herald.unit_of_work() as session:
        session.execute(update(SocialAccount).where(SocialAccount.id == reauth)
                        .values(state="needs_reauth", state_reason="the token was revoked"))
        session.execute(update(SocialToken).where(SocialToken.account_id == expired)
                        .values(expires_at=now - timedelta(hours=1)))
        session.execute(update(SocialToken).where(SocialToken.account_id == soon)
                        .values(expires_at=now + timedelta(days=2)))
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the media folder should be")
    settings = herald.settings.model_copy(update={
        "graph_api_version": "v20.0", "linkedin_version": "202601", "media_dir": blocked})
    findings = doctor.diagnose(today=TODAY, fetch=served, settings=settings)
    said = "\n".join(_failed(findings))
    assert "cannot write in" in said and "HERALD_MEDIA_DIR" in said
    assert "HERALD_GRAPH_API_VERSION=v20.0: the Graph API retired it on 2026-09-24" in said
    assert "HERALD_LINKEDIN_VERSION=202601: LinkedIn's API retires it on 2026-12-31" in said
    assert "facebook 1002" in said and "needs reconnecting (the token was revoked)" in said
    assert "facebook 1003" in said and "its token expired" in said
    assert "facebook 1004" in said and "Herald cannot refresh it" in said
    assert "facebook 1005" in said and "cannot be decrypted" in said
    assert ok not in said
    assert ("API version", doctor.Level.FAIL) in _levels(findings)
    assert ("API version", doctor.Level.WARN) in _levels(findings)
    assert doctor.exit_status(findings) == 1


def test_media_that_cannot_be_read_back_is_a_failure(herald, settings):
    def not_found(url: str) -> httpx.Response:
        return httpx.Response(404)

    findings = doctor.diagnose(today=TODAY, fetch=not_found, settings=settings)
    [media] = [f for f in findings if f.check == "media store"]
    assert media.level == doctor.Level.FAIL and "answers 404" in media.message


@pytest.mark.parametrize(("values", "check", "said"), [
    ({"secret_key": "changeme"}, "secret key", "too weak"),
    ({"database_url": "postgresql://herald@127.0.0.1:1/herald"}, "database",
     "cannot reach the database"),
])
def test_a_weak_key_or_an_unreachable_database_is_named(tmp_path, values, check, said):
    values = {"database_url": "sqlite:///" + str(tmp_path / "h.db"), **values}
    settings = make_settings(values.pop("database_url"), media_dir=tmp_path / "m", **values)
    findings = doctor.diagnose(today=TODAY, settings=settings)
    [found] = [f for f in findings if f.check == check]
    assert found.level == doctor.Level.FAIL and said in found.message


def test_an_unmigrated_database_says_to_upgrade(tmp_path):
    settings = make_settings("sqlite:///" + str(tmp_path / "h.db"), media_dir=tmp_path / "m")
    findings = doctor.diagnose(today=TODAY, settings=settings)
    [found] = [f for f in findings if f.check == "migrations"]
    assert found.level == doctor.Level.FAIL and "run `herald db upgrade`" in found.message


def test_doctor_on_the_command_line(herald, database_url, tmp_path):
    env = {"HERALD_DATABASE_URL": database_url, "HERALD_SECRET_KEY": SECRET,
           "HERALD_MEDIA_DIR": str(tmp_path / "media"),
           "HERALD_PUBLIC_URL": "http://127.0.0.1:9"}  # nothing listens: a fresh install
    result = CliRunner().invoke(app, ["doctor"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith("Everything is fine.")
    as_json = CliRunner().invoke(app, ["doctor", "--json"], env=env)
    assert {f["level"] for f in json.loads(as_json.stdout)} == {"ok"}
    broken = CliRunner().invoke(app, ["doctor"], env={**env, "HERALD_SECRET_KEY": "changeme"})
    assert broken.exit_code == 1
    assert "FAIL  secret key" in broken.stdout and "1 problem(s) to fix" in broken.stdout
    unloadable = CliRunner().invoke(app, ["doctor"], env={**env, "HERALD_PORT": "many"})
    assert unloadable.exit_code == 1 and "FAIL  configuration" in unloadable.stdout
