"""Signing in and out, the session cookie, CSRF, and what errors look like."""

from __future__ import annotations

from fastapi.testclient import TestClient

from herald.models import User
from herald.web import queries, sessions, users
from tests.app.web.conftest import PASSWORD, build_app, csrf_of, sign_in


def test_every_page_but_sign_in_sends_you_to_sign_in_first(web, member):
    for path in ("/", "/calendar", "/compose", "/posts", "/accounts", "/settings"):
        response = web.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/signin")
    response = web.get("/posts?status=failed")
    assert response.headers["location"] == "/signin?next=/posts%3Fstatus%3Dfailed"
    # htmx gets told where to go instead of a sign-in page inside a fragment.
    response = web.get("/calendar", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"] == "/signin?next=/calendar"


def test_sign_in_lands_on_the_page_asked_for_and_sets_a_safe_cookie(web, member):
    page = web.get("/signin?next=/posts")
    assert page.status_code == 200
    response = web.post("/signin", data={"email": member.email.upper(), "password": PASSWORD,
                                         "next": "/posts", "csrf_token": csrf_of(page.text)})
    assert (response.status_code, response.headers["location"]) == (303, "/posts")
    cookie = response.headers["set-cookie"].lower()
    assert "herald_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # http://testserver: a Secure cookie would never come back
    assert web.get("/posts").status_code == 200


def test_the_cookie_is_secure_when_herald_is_served_over_https(herald):
    herald.settings.public_url = "https://herald.example.com"
    with TestClient(build_app(herald), base_url="https://testserver") as client:
        response = client.get("/signin")
    assert "secure" in response.headers["set-cookie"].lower()


def test_next_never_leads_to_another_site(web, member):
    page = web.get("/signin")
    response = web.post("/signin", data={"email": member.email, "password": PASSWORD,
                                         "next": "//evil.example/", "csrf_token":
                                         csrf_of(page.text)})
    assert response.headers["location"] == "/"


def test_a_wrong_password_says_so_and_keeps_the_email(web, member):
    page = web.get("/signin")
    response = web.post("/signin", data={"email": member.email, "password": "nope",
                                         "csrf_token": csrf_of(page.text)})
    assert response.status_code == 401
    assert "The email or the password is not right." in response.text
    assert f'value="{member.email}"' in response.text
    assert web.get("/").status_code == 303  # still signed out
    response = web.post("/signin", data={"email": "", "password": "",
                                         "csrf_token": csrf_of(page.text)})
    assert response.status_code == 422
    assert "Enter your email and your password." in response.text


def test_the_first_sign_in_page_says_how_to_create_a_user(web, herald):
    assert "herald user create" in web.get("/signin").text


def test_sign_out_ends_the_session(signed_in):
    response = signed_in.post("/signout")
    assert (response.status_code, response.headers["location"]) == (303, "/signin")
    assert "You are signed out." in signed_in.get("/signin").text
    assert signed_in.get("/").status_code == 303


def test_a_removed_user_is_signed_out(signed_in, herald, member):
    with herald.db.session() as session:
        session.delete(session.get(User, member.id))
    assert signed_in.get("/").status_code == 303


def test_forms_without_the_csrf_token_are_refused(signed_in, herald, company):
    client = signed_in.client
    for path, data in (("/settings/tokens", {"name": "forged"}),
                       ("/signout", {}),
                       ("/accounts/sandbox", {"platform": "facebook", "name": "forged"})):
        response = client.post(path, data=data)
        assert response.status_code == 403, path
        assert "did not come from Herald" in response.text
        # A token from another session is no better.
        response = client.post(path, data={**data, "csrf_token": "x" * 43})
        assert response.status_code == 403, path
    with herald.db.session() as session:
        names = [t.name for t in queries.company_tokens(session, company[0])]
    assert "forged" not in names
    assert signed_in.get("/").status_code == 200  # still signed in: nothing happened


def test_the_sign_in_form_itself_needs_the_token(web, member):
    response = web.post("/signin", data={"email": member.email, "password": PASSWORD})
    assert response.status_code == 403


def test_htmx_sends_the_token_in_a_header(signed_in):
    response = signed_in.client.post("/compose/check", data={"caption": "hi"},
                                     headers={"X-CSRF-Token": signed_in.csrf,
                                              "HX-Request": "true"})
    assert response.status_code == 200
    response = signed_in.client.post("/compose/check", data={"caption": "hi"},
                                     headers={"X-CSRF-Token": "wrong"})
    assert response.status_code == 403


def test_unknown_pages_are_html_for_browsers_and_json_for_the_api(web):
    page = web.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    api = web.get("/api/v1/no-such-thing", headers={"accept": "text/html"})
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"


def test_the_api_is_unchanged_by_the_ui(web, auth):
    assert web.get("/api/v1/posts", headers=auth).status_code == 200
    response = web.get("/api/v1/posts/nope", headers=auth)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert web.get("/api/v1/posts").status_code == 401  # a session cookie is no API token


def test_pages_carry_security_headers(signed_in):
    response = signed_in.get("/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_static_files_are_served_and_htmx_is_vendored(web):
    response = web.get("/static/htmx.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:200]
    assert web.get("/static/herald.css").status_code == 200


def test_a_member_of_another_company_sees_only_their_company(web, herald, member):
    from herald import services

    with herald.db.session() as session:
        other, _ = services.create_company(session, name="Other Co")
        users.create_user(session, company_id=other.id, email="bob@other.example",
                          password=PASSWORD)
    browser = sign_in(web, "bob@other.example")
    assert "Other Co" in browser.get("/").text
    assert "Acme" not in browser.get("/settings").text


def _replay(web_app, cookie: str):
    """A request with a copy of a session cookie, as a thief holding it would send."""
    with TestClient(web_app, follow_redirects=False) as thief:
        thief.cookies.set(sessions.COOKIE, cookie)
        return thief.get("/")


def test_a_copied_cookie_stops_working_when_its_owner_signs_out(signed_in, web_app):
    cookie = signed_in.client.cookies[sessions.COOKIE]
    assert _replay(web_app, cookie).status_code == 200
    signed_in.post("/signout")
    assert _replay(web_app, cookie).status_code == 303


def test_signing_out_ends_the_members_other_sessions_too(signed_in, web_app, member):
    with TestClient(web_app, follow_redirects=False) as laptop:
        sign_in(laptop, member.email)
        signed_in.post("/signout")
        assert laptop.get("/").status_code == 303


def test_a_stale_cookie_cannot_sign_its_owner_out_again(signed_in, web_app, member):
    old, old_csrf = signed_in.client.cookies[sessions.COOKIE], signed_in.csrf
    signed_in.post("/signout")
    again = sign_in(signed_in.client, member.email)
    with TestClient(web_app, follow_redirects=False) as thief:
        thief.cookies.set(sessions.COOKIE, old)
        assert thief.post("/signout", data={"csrf_token": old_csrf}).status_code == 303
    assert again.get("/").status_code == 200


def test_a_new_password_ends_the_members_sessions(signed_in, herald, member):
    with herald.unit_of_work() as session:
        users.set_password(session, email=member.email, password="another long password")
    assert signed_in.get("/").status_code == 303
    sign_in(signed_in.client, member.email, "another long password")
    assert signed_in.get("/").status_code == 200
