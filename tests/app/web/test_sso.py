"""OpenID Connect sign-in against the project's fake provider (herald.sso.fake), over real
HTTP: discovery, authorize, token with an RS256-signed id_token, JWKS."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from html import unescape
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from herald.models import User
from herald.services import memberships
from herald.sso.fake import FakeProvider
from herald.team_models import OidcProvider
from tests.app.web.conftest import add_member, sign_in
from tests.oidc_server import oidc_provider


@pytest.fixture
def idp() -> Iterator[FakeProvider]:
    with oidc_provider() as fake:
        yield fake


def _configure(client, token: str, idp: FakeProvider, **extra):
    body = {"issuer": idp.issuer, "client_id": "herald", "client_secret": "s3cret-client",
            "role_claim": "groups", "role_map": {"marketing": "editor", "admins": "admin"},
            **extra}
    return client.put("/api/v1/company/sso", headers={"Authorization": f"Bearer {token}"},
                      json=body)


def _sso(web, idp: FakeProvider, company: str = "Acme", next_url: str = "/"):
    """Start at Herald, follow the provider's redirect over HTTP, come back."""
    started = web.get("/signin/sso", params={"company": company, "next": next_url})
    if started.status_code != 200:
        return started
    at_idp = httpx.get(_provider_url(started.text))  # real HTTP to the fake provider
    assert at_idp.status_code == 302, at_idp.text
    back = urlsplit(at_idp.headers["location"])
    return web.get(f"{back.path}?{back.query}")


def _provider_url(html: str) -> str:
    """Where the page that moves on by itself (a meta refresh) sends the browser."""
    found = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', html)
    assert found, html
    return unescape(found.group(1))


@pytest.fixture
def configured(web, company, idp):
    answer = _configure(web, company[1], idp)
    assert answer.status_code == 200, answer.text
    return idp


@pytest.mark.all_engines
def test_a_new_person_signs_in_with_the_companys_provider_as_the_mapped_role(
        web, herald, company, configured):
    configured.person = {"sub": "ada-1", "email": "Ada@Example.com", "email_verified": True,
                         "name": "Ada", "groups": ["staff", "marketing"]}
    back = _sso(web, configured, next_url="/posts")
    assert back.status_code == 303 and back.headers["location"] == "/posts", back.text
    assert web.get("/posts").status_code == 200
    with herald.db.session() as session:
        user = session.scalars(select(User).where(User.email == "ada@example.com")).one()
        assert memberships.find(session, user_id=user.id, company_id=company[0]).role == \
            "editor"
    entries = web.get("/api/v1/audit", headers={"Authorization": f"Bearer {company[1]}"},
                      params={"action": "member.added"}).json()["items"]
    assert entries[0]["actor"] == "web:ada@example.com"


def test_the_strongest_mapped_role_wins_and_a_change_at_the_provider_follows(
        web, herald, company, configured):
    member = add_member(herald, company[0])  # an owner of Acme by password
    configured.person = {"sub": "a", "email": member.email, "groups": ["marketing", "admins"]}
    assert _sso(web, configured).status_code == 303
    with herald.db.session() as session:
        assert memberships.find(session, user_id=member.id, company_id=company[0]).role == \
            "admin"
    web.cookies.clear()
    configured.person = {"sub": "a", "email": member.email, "groups": ["marketing"]}
    assert _sso(web, configured).status_code == 303
    with herald.db.session() as session:
        assert memberships.find(session, user_id=member.id, company_id=company[0]).role == \
            "editor"


def test_no_mapped_role_and_no_default_is_refused(web, company, configured):
    configured.person = {"sub": "x", "email": "x@example.com", "groups": ["sales"]}
    refused = _sso(web, configured)
    assert refused.status_code == 403 and "no role" in refused.text
    assert web.get("/posts").status_code == 303  # not signed in


def test_a_default_role_lets_in_whoever_maps_to_none(web, herald, company, idp):
    assert _configure(web, company[1], idp, role_map={}, default_role="viewer"
                      ).status_code == 200
    idp.person = {"sub": "v", "email": "vic@example.com"}
    assert _sso(web, idp).status_code == 303
    assert web.get("/audit").status_code == 403  # a viewer


@pytest.mark.parametrize(("tamper", "said"), [
    ({"aud": "someone-else"}, "audience"),
    ({"nonce": "not-the-one-sent"}, "nonce"),
    ({"iss": "http://evil.example"}, "issuer"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
    ({"email_verified": False}, "verified e-mail"),
])
def test_a_bad_id_token_is_refused(web, herald, company, configured, tamper, said):
    configured.person = {"sub": "m", "email": "mallory@example.com", "groups": ["admins"]}
    configured.tamper = tamper
    refused = _sso(web, configured)
    assert refused.status_code == 401 and said in refused.text, refused.text
    assert web.get("/posts").status_code == 303
    with herald.db.session() as session:
        assert session.scalars(select(User).where(User.email == "mallory@example.com")
                               ).first() is None


def test_check_id_token_refuses_a_signature_by_an_unknown_key():
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    from herald.sso.oidc import SsoRefused, check_id_token
    from herald.sso.providers import Provider

    signer = RSAKey.generate_key(2048, parameters={"kid": "k"})
    published = RSAKey.generate_key(2048, parameters={"kid": "k"})
    now = int(time.time())
    token = jwt.encode({"alg": "RS256", "kid": "k"}, {
        "iss": "http://idp", "aud": "herald", "nonce": "n", "sub": "s", "iat": now,
        "exp": now + 60, "email": "a@example.com"}, signer)
    provider = Provider("c", "http://idp", "herald", "secret", "", {}, "viewer")
    with pytest.raises(SsoRefused, match="signature"):
        check_id_token(token, {"keys": [published.as_dict(private=False)]}, provider, "n")


def test_a_callback_without_a_started_sign_in_is_refused(web, company, configured):
    refused = web.get("/signin/sso/callback", params={"code": "x", "state": "y"})
    assert refused.status_code == 401 and "not started here" in refused.text


def test_a_callback_with_another_state_is_refused(web, company, configured):
    configured.person = {"sub": "a", "email": "ada@example.com", "groups": ["marketing"]}
    started = web.get("/signin/sso", params={"company": "Acme"})
    at_idp = httpx.get(_provider_url(started.text))
    back = urlsplit(at_idp.headers["location"])
    forged = back.query.replace("state=", "state=x")
    refused = web.get(f"{back.path}?{forged}")
    assert refused.status_code == 401 and "not the one this browser asked for" in refused.text


def test_a_company_without_sso_says_so(web, company):
    answer = web.get("/signin/sso", params={"company": "Acme"})
    assert answer.status_code == 404 and "no single sign-on" in answer.text


def test_password_sign_in_still_works_beside_sso(web, herald, company, configured):
    member = add_member(herald, company[0])
    browser = sign_in(web, member.email)
    assert "Members of Acme" in browser.get("/settings").text


def test_failed_sso_callbacks_are_throttled_like_password_sign_ins(web, herald, company,
                                                                    configured):
    herald.settings.signin_max_failures = 2
    for _ in range(2):
        assert web.get("/signin/sso/callback", params={"code": "x"}).status_code == 401
    configured.person = {"sub": "a", "email": "ada@example.com", "groups": ["marketing"]}
    refused = _sso(web, configured)
    assert refused.status_code == 401 and "Too many failed sign-ins" in refused.text


def test_the_client_secret_is_stored_encrypted_and_never_shown(web, herald, company,
                                                               configured):
    shown = web.get("/api/v1/company/sso", headers={"Authorization": f"Bearer {company[1]}"})
    assert shown.status_code == 200 and "s3cret-client" not in shown.text
    assert shown.json()["redirect_uri"].endswith("/signin/sso/callback")
    with herald.db.session() as session:
        stored = session.get(OidcProvider, company[0]).client_secret
    assert "s3cret-client" not in stored
    assert herald.cipher.decrypt(stored) == "s3cret-client"


@pytest.mark.parametrize("body", [
    {"issuer": "ftp://idp", "client_id": "h", "client_secret": "s", "default_role": "viewer"},
    {"issuer": "https://idp", "client_id": "h", "client_secret": "s"},
    {"issuer": "https://idp", "client_id": "h", "default_role": "viewer"},
    {"issuer": "https://idp", "client_id": "h", "client_secret": "s",
     "role_map": {"x": "boss"}},
])
def test_bad_provider_settings_are_refused(web, company, body):
    answer = web.put("/api/v1/company/sso", headers={"Authorization": f"Bearer {company[1]}"},
                     json=body)
    assert answer.status_code == 422, answer.text
