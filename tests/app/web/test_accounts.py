"""Accounts: sandbox accounts, accounts with a token, reconnecting, removing."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import select

from herald.models import Post, SocialAccount
from tests.app.web.conftest import build_app
from tests.helpers import add_account, add_posts


def _accounts(herald, company_id):
    with herald.db.session() as session:
        return list(session.scalars(select(SocialAccount)
                                    .where(SocialAccount.company_id == company_id)))


def test_a_sandbox_account_is_added_from_the_page(signed_in, herald, company):
    response = signed_in.post("/accounts/sandbox", data={"platform": "instagram",
                                                         "name": "Acme IG (sandbox)"})
    assert response.status_code == 303, response.text
    [account] = _accounts(herald, company[0])
    assert (account.platform, account.sandbox, account.name) == ("instagram", True,
                                                                 "Acme IG (sandbox)")
    page = signed_in.get("/accounts").text
    assert "Added the sandbox Instagram account Acme IG (sandbox)." in page
    assert "Connected" in page and "sandbox" in page


def test_a_sandbox_account_without_a_name_is_explained(signed_in, herald, company):
    response = signed_in.post("/accounts/sandbox", data={"platform": "linkedin", "name": " "})
    assert response.status_code == 422
    assert "name: String should have at least 1 character" in response.text
    assert '<option value="linkedin" selected>' in response.text
    assert _accounts(herald, company[0]) == []


def test_without_the_sandbox_the_page_says_where_it_runs(web, herald, member):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from tests.app.web.conftest import sign_in

    with TestClient(build_app(replace(herald, sandbox=None)),
                    follow_redirects=False) as client:
        browser = sign_in(client, member.email)
        assert "The sandbox runs under" in browser.get("/accounts").text
        response = browser.post("/accounts/sandbox", data={"platform": "facebook",
                                                           "name": "x"})
        assert response.status_code == 409
        assert "need the built-in sandbox" in response.text


def test_an_account_with_a_token(signed_in, herald, company):
    response = signed_in.post("/accounts", data={
        "platform": "facebook", "name": "Acme Page", "external_id": "1234",
        "access_token": "EAAB-secret"})
    assert response.status_code == 303, response.text
    [account] = _accounts(herald, company[0])
    assert account.external_id == "1234"
    # The same page twice is refused, and the token is never echoed back.
    response = signed_in.post("/accounts", data={
        "platform": "facebook", "name": "Acme Page", "external_id": "1234",
        "access_token": "EAAB-secret"})
    assert response.status_code == 409
    assert "already has the facebook account" in response.text
    assert 'value="1234"' in response.text and "EAAB-secret" not in response.text
    response = signed_in.post("/accounts", data={"platform": "facebook", "name": "No token",
                                                 "external_id": "555"})
    assert response.status_code == 422
    assert "access_token are required" in response.text


def test_a_needs_reauth_account_is_flagged_and_reconnected(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    with herald.db.session() as session:
        account = session.get(SocialAccount, fb)
        account.state, account.state_reason = "needs_reauth", "The token expired."
    assert "Accounts to reconnect" in signed_in.get("/").text
    page = signed_in.get("/accounts").text
    assert "Needs reconnecting" in page and "The token expired." in page
    response = signed_in.post(f"/accounts/{fb}/token", data={"access_token": ""})
    assert response.status_code == 422
    assert "Paste the new access token." in response.text
    response = signed_in.post(f"/accounts/{fb}/token", data={"access_token": "EAAB-new"})
    assert response.status_code == 303
    assert _accounts(herald, company[0])[0].state == "active"
    assert "Accounts to reconnect" not in signed_in.get("/").text


def test_removing_an_account_removes_its_posts(signed_in, herald, company):
    fb = add_account(herald, company[0], "facebook", "1001")
    add_posts(herald, company[0], fb, 3)
    assert "deletes its 3 posts" in signed_in.get("/accounts").text
    response = signed_in.post(f"/accounts/{fb}/remove")
    assert response.status_code == 303
    assert _accounts(herald, company[0]) == []
    with herald.db.session() as session:
        assert session.scalars(select(Post)).all() == []


def test_another_companys_account_is_not_found(signed_in, herald):
    from herald import services

    with herald.db.session() as session:
        other, _ = services.create_company(session, name="Other")
    theirs = add_account(herald, other.id, "facebook", "999")
    assert signed_in.post(f"/accounts/{theirs}/token",
                          data={"access_token": "hijack"}).status_code == 404
    assert signed_in.post(f"/accounts/{theirs}/token", data={}).status_code == 404
    assert signed_in.post(f"/accounts/{theirs}/remove").status_code == 404
    assert len(_accounts(herald, other.id)) == 1
    assert "facebook 999" not in signed_in.get("/accounts").text


def test_oauth_buttons_show_only_when_configured(web, herald, member):
    from fastapi.testclient import TestClient

    from tests.app.web.conftest import sign_in

    browser = sign_in(web, member.email)
    assert "/accounts/connect/facebook" not in browser.get("/accounts").text
    herald.settings.facebook_app_id = "1234567890"
    herald.settings.facebook_app_secret = SecretStr("app-secret")
    with TestClient(build_app(herald), follow_redirects=False) as client:
        browser = sign_in(client, member.email)
        page = browser.get("/accounts").text
        assert "/accounts/connect/facebook" in page
        assert "/accounts/connect/linkedin" not in page
        # The flows themselves are tested in test_connect.py.
        connect = browser.get("/accounts/connect/facebook")
        assert connect.status_code == 303
        assert connect.headers["location"].startswith("https://www.facebook.com/v25.0/dialog/")
