"""Settings: time zone, API tokens (shown once), members."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from herald import services
from herald.models import ApiToken, User
from herald.web import queries, users
from tests.app.web.conftest import sign_in


def test_the_time_zone_is_saved_and_a_wrong_one_is_explained(signed_in, herald, member):
    response = signed_in.post("/settings/timezone", data={"timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert "&#39;Mars/Olympus&#39; is not a time zone" in response.text
    assert 'value="Mars/Olympus"' in response.text
    response = signed_in.post("/settings/timezone", data={"timezone": "Asia/Kolkata"})
    assert response.status_code == 303
    with herald.db.session() as session:
        assert session.get(User, member.id).timezone == "Asia/Kolkata"
    assert "Times are now shown in Asia/Kolkata." in signed_in.get("/settings").text
    assert "Times in Asia/Kolkata" in signed_in.get("/calendar").text


def test_a_new_api_token_is_shown_once_and_works(signed_in, herald, company):
    response = signed_in.post("/settings/tokens", data={"name": "CI deploys"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    token = re.search(r'id="new-token">(hld_[^<]+)<', response.text).group(1)
    assert TestClient(signed_in.client.app).get(
        "/api/v1/posts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    again = signed_in.get("/settings").text
    assert token not in again and "CI deploys" in again and token[:12] in again
    response = signed_in.post("/settings/tokens", data={"name": ""})
    assert response.status_code == 422 and "Name the token" in response.text


def test_a_token_is_revoked_and_another_companys_is_out_of_reach(signed_in, herald, company):
    with herald.db.session() as session:
        [mine] = queries.company_tokens(session, company[0])
        other, _ = services.create_company(session, name="Other")
        [theirs] = queries.company_tokens(session, other.id)
    assert signed_in.post(f"/settings/tokens/{theirs.id}/revoke").status_code == 404
    response = signed_in.post(f"/settings/tokens/{mine.id}/revoke")
    assert response.status_code == 303
    with herald.db.session() as session:
        assert session.get(ApiToken, mine.id).revoked_at is not None
        assert session.get(ApiToken, theirs.id).revoked_at is None
    assert "Revoked" in signed_in.get("/settings").text


def test_members_are_listed_and_added(signed_in, web, herald, company):
    response = signed_in.post("/settings/members", data={
        "email": "Grace@Example.com", "name": "Grace", "password": "short"})
    assert response.status_code == 422
    assert "at least 10 characters" in response.text
    assert 'value="Grace@Example.com"' in response.text and 'value="Grace"' in response.text
    response = signed_in.post("/settings/members", data={
        "email": "Grace@Example.com", "name": "Grace", "password": "a long password"})
    assert response.status_code == 303
    page = signed_in.get("/settings").text
    assert "grace@example.com" in page and "ada@example.com" in page
    response = signed_in.post("/settings/members", data={
        "email": "grace@example.com", "password": "a long password"})
    assert response.status_code == 422 and "cannot add" in response.text
    signed_in.post("/signout")
    grace = sign_in(web, "grace@example.com", "a long password")
    assert "Acme" in grace.get("/").text



def _member_error(browser, email: str) -> tuple[int, str]:
    response = browser.post("/settings/members", data={
        "email": email, "name": "", "password": "a long password"})
    found = re.search(r'id="member-error"[^>]*>(.*?)</', response.text, re.S)
    assert found, response.text
    return response.status_code, found.group(1).replace(email, "EMAIL")


def test_adding_a_member_does_not_tell_whether_the_email_is_used_elsewhere(
        signed_in, herald, company, member):
    with herald.unit_of_work() as session:
        other, _ = services.create_company(session, name="Elsewhere")
        users.create_user(session, company_id=other.id, email="eve@elsewhere.example",
                          password="eve's long password")
    elsewhere = _member_error(signed_in, "eve@elsewhere.example")
    assert elsewhere == _member_error(signed_in, member.email)  # a member here already
    assert elsewhere == _member_error(signed_in, "eve-at-elsewhere.example")  # no address
    assert elsewhere[0] == 422 and "Elsewhere" not in elsewhere[1]
    with herald.db.session() as session:
        [eve] = session.scalars(select(User).where(User.email == "eve@elsewhere.example"))
        assert eve.company_id == other.id
