"""`herald doctor` (issue 17, #7): a healthy install is fine; a broken one names each
fault and what to fix."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import update
from typer.testing import CliRunner

from herald import doctor
from herald.app import create_app
from herald.cli import app
from herald.crypto import TokenCipher
from herald.models import SocialAccount, SocialToken, utcnow
from herald.platforms.bluesky.fake import store as pds
from herald.platforms.fake import FakeServer
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


@pytest.fixture
def fake():
    """The platforms' fake on a real port, which the doctor asks about each token."""
    with FakeServer() as server:
        yield server


def _asking(settings, fake, **more):
    """Settings that send the doctor's token questions to the fake."""
    return settings.model_copy(update={
        "graph_api_url": fake.graph_url, "linkedin_api_url": fake.linkedin_url,
        "linkedin_token_url": fake.linkedin_url + "/oauth/v2/accessToken",
        "allow_private_server_urls": True, **more})


def _levels(findings):
    return {(f.check, f.level) for f in findings}


def _failed(findings):
    return [f.message for f in findings if f.level != doctor.Level.OK]


def test_a_healthy_install_is_fine(herald, company, served, fake):
    add_account(herald, company[0], "facebook", "1001")
    fake.state.add_facebook_page("1001", "secret-token-1001")
    findings = doctor.diagnose(today=TODAY, fetch=served,
                               settings=_asking(herald.settings, fake))
    assert _failed(findings) == []
    assert doctor.exit_status(findings) == 0
    checks = [f.check for f in findings]
    for check in ("configuration", "secret key", "database", "migrations", "media store",
                  "API version", "tokens"):
        assert check in checks
    [media] = [f for f in findings if f.check == "media store"]
    assert "written and read back at http://testserver/media/" in media.message
    assert findings[-1].message == ("1 of 1 account(s) have a usable token; 1 checked "
                                    "with their platform")


def test_each_fault_of_a_broken_install_is_named(herald, company, served, tmp_path, fake):
    ok = add_account(herald, company[0], "facebook", "1001")
    fake.state.add_facebook_page("1001", "secret-token-1001")
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
    settings = _asking(herald.settings, fake, graph_api_version="v20.0",
                       linkedin_version="202601", media_dir=blocked)
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


def _token(fake, value):
    record = fake.state.token("graph" if not value.startswith("li-") else "linkedin", value)
    assert record is not None
    return record


def test_each_token_is_asked_of_its_platform_and_each_fault_named(herald, company, served,
                                                                 fake):
    """Valid, expiring, missing permissions, revoked, unknown: as each platform says."""
    c = company[0]
    good = add_account(herald, c, "facebook", "2001")
    fake.state.add_facebook_page("2001", "secret-token-2001")
    add_account(herald, c, "facebook", "2002")  # a token the platform never issued
    add_account(herald, c, "facebook", "2003")
    fake.state.add_facebook_page("2003", "secret-token-2003")
    fake.state.revoke_token("secret-token-2003")
    add_account(herald, c, "facebook", "2004")
    fake.state.add_facebook_page("2004", "secret-token-2004", token_expires_in=2 * 86400)
    add_account(herald, c, "instagram", "3001")
    fake.state.add_instagram_account("3001", "secret-token-3001")
    _token(fake, "secret-token-3001").scope = frozenset({"instagram_basic",
                                                          "pages_read_engagement"})
    add_account(herald, c, "linkedin", "urn:li:person:4001")
    fake.state.add_linkedin_member("urn:li:person:4001", "secret-token-urn:li:person:4001")
    fake.state.expire_token("secret-token-urn:li:person:4001")
    add_account(herald, c, "bluesky", "alice.test", server_url=f"{fake.url}/bluesky")
    pds.add_account(fake.state, "alice.test", "abcd-efgh-ijkl-mnop")  # another password
    findings = doctor.diagnose(today=TODAY, fetch=served, settings=_asking(herald.settings,
                                                                           fake))
    said = [f for f in findings if f.check == "tokens"]

    def about(external_id):  # by the account's name, "<platform> <external id>"
        [found] = [f for f in said if f" {external_id}'" in f.message]
        return found

    assert not any(good in f.message for f in said)
    assert about("2002").level == doctor.Level.FAIL
    assert "Facebook says its token is not valid" in about("2002").message
    assert "connect the account again" in about("2002").message
    assert "code 190" in about("2003").message and about("2003").level == doctor.Level.FAIL
    assert about("2004").level == doctor.Level.WARN
    assert "Facebook says its token expires" in about("2004").message
    assert "(in 1 day(s))" in about("2004").message
    assert about("3001").level == doctor.Level.FAIL
    assert "lacks instagram_content_publish, which publishing needs" in about("3001").message
    assert about("urn:li:person:4001").level == doctor.Level.FAIL
    assert "LinkedIn says its token is not valid" in about("urn:li:person:4001").message
    assert about("alice.test").level == doctor.Level.FAIL
    assert "Bluesky says its token is not valid" in about("alice.test").message
    assert findings[-1].message == ("1 of 7 account(s) have a usable token; 7 checked with "
                                    "their platform")
    every = "\n".join(f.message for f in findings)
    assert "secret-token" not in every


def test_with_the_apps_configured_scopes_are_checked_with_the_apps_own_tokens(
        herald, company, served, fake):
    fake.state.add_oauth_app("facebook", "fb-app", "fb-app-secret", ["http://x/cb"])
    fake.state.add_oauth_app("linkedin", "li-app", "li-app-secret", ["http://x/cb"])
    add_account(herald, company[0], "facebook", "5001")
    fake.state.add_facebook_page("5001", "secret-token-5001")
    add_account(herald, company[0], "linkedin", "urn:li:organization:6001")
    fake.state.add_linkedin_organization("urn:li:organization:6001",
                                         "secret-token-urn:li:organization:6001")
    fake.state.token("linkedin", "secret-token-urn:li:organization:6001").scope = \
        frozenset({"w_member_social"})  # a member's scope, not an organization's
    apps = {"facebook_app_id": "fb-app", "facebook_app_secret": SecretStr("fb-app-secret"),
            "linkedin_client_id": "li-app",
            "linkedin_client_secret": SecretStr("li-app-secret")}
    findings = doctor.diagnose(today=TODAY, fetch=served,
                               settings=_asking(herald.settings, fake, **apps))
    [linkedin] = _failed(findings)
    assert "lacks w_organization_social" in linkedin
    wrong = _asking(herald.settings, fake, **{**apps, "facebook_app_secret": SecretStr("not-it")})
    [facebook, _] = _failed(doctor.diagnose(today=TODAY, fetch=served, settings=wrong))
    assert "Meta refused the app's own token" in facebook
    assert "HERALD_FACEBOOK_APP_SECRET" in facebook


def test_a_platform_that_cannot_be_reached_is_a_warning(herald, company, served):
    add_account(herald, company[0], "facebook", "7001")
    settings = herald.settings.model_copy(update={"graph_api_url": "http://127.0.0.1:9"})
    findings = doctor.diagnose(today=TODAY, fetch=served, settings=settings)
    [warning] = _failed(findings)
    assert "could not ask Facebook about its token (ConnectError)" in warning
    assert doctor.exit_status(findings) == 0
    offline = doctor.diagnose(today=TODAY, fetch=served, settings=settings,
                              ask_platforms=False)
    assert _failed(offline) == []


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


def test_a_mastodon_token_is_asked_of_its_instance(herald, company, served, fake) -> None:
    from herald.platforms.mastodon.fake import store as masto

    c = company[0]
    server = f"{fake.url}/mastodon"
    add_account(herald, c, "mastodon", "alice", server_url=server)
    masto.add_account(fake.state, "alice", "secret-token-alice")
    add_account(herald, c, "mastodon", "bob", server_url=server)  # a token never issued
    findings = doctor.diagnose(today=TODAY, fetch=served, settings=_asking(herald.settings,
                                                                           fake))
    said = [f for f in findings if f.check == "tokens"]
    [bob] = [f for f in said if " bob'" in f.message]
    assert bob.level == doctor.Level.FAIL
    assert "Mastodon says its token is not valid" in bob.message
    assert "access token is invalid" in bob.message
    assert not [f for f in said if " alice'" in f.message]
    assert findings[-1].message == ("1 of 2 account(s) have a usable token; 2 checked with "
                                    "their platform")
def test_instagram_login_tokens_are_asked_of_graph_instagram_com(herald, company, served,
                                                                  fake):
    c = company[0]
    add_account(herald, c, "instagram_login", "6001")
    fake.state.add_account("instagram_login", "6001", "secret-token-6001")
    add_account(herald, c, "instagram_login", "6002")
    fake.state.add_account("instagram_login", "6002", "secret-token-6002")
    fake.state.expire_token("secret-token-6002")
    # A Facebook Login token for the same kind of account means nothing on this host.
    add_account(herald, c, "instagram_login", "6003")
    fake.state.add_instagram_account("6003", "secret-token-6003")
    findings = doctor.diagnose(today=TODAY, fetch=served, settings=_asking(
        herald.settings, fake, instagram_api_url=fake.instagram_url))
    said = [f for f in findings if f.check == "tokens"]

    def about(external_id):
        [found] = [f for f in said if f" {external_id}'" in f.message]
        return found

    assert not any("6001" in f.message for f in said)
    assert about("6002").level == doctor.Level.FAIL and "code 190" in about("6002").message
    assert about("6003").level == doctor.Level.FAIL
    assert "Instagram (Instagram Login) says its token is not valid" in about("6003").message
