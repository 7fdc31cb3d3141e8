"""/sandbox/ shows a signed-in user their own company's sandbox posts, and nothing to
anyone else (issue 13, #4)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient

from herald import services
from herald.platforms.fake.models import PublishedRecord
from herald.runtime import Herald
from herald.sandbox import Sandbox
from tests.app.web.conftest import Browser


def publish(app: FastAPI, token: str, caption: str) -> str:
    """A sandbox account made through the API, and a post the fake "published" for it."""
    with TestClient(app) as api:
        created = api.post("/api/v1/accounts", headers={"Authorization": f"Bearer {token}"},
                           json={"platform": "facebook", "name": caption, "sandbox": True})
    assert created.status_code == 201, created.text
    external_id: str = created.json()["external_id"]
    sandbox_of(app).state.record_published(PublishedRecord(
        platform="facebook", account=external_id, kind="text", caption=caption,
        media_urls=(), external_id=f"{external_id}_1", permalink=None,
        published_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC)))
    return external_id


def other_company(herald: Herald) -> str:
    """Another company's API token."""
    with herald.db.session() as session:
        return services.create_company(session, name="Globex")[1]


def sandbox_of(app: FastAPI) -> Sandbox:
    sandbox = app.state.herald.sandbox
    assert isinstance(sandbox, Sandbox)
    return sandbox


def test_without_a_session_the_page_shows_nothing_and_asks_to_sign_in(web, web_app, herald,
                                                                      company):
    publish(web_app, company[1], "Acme's launch caption")
    publish(web_app, other_company(herald), "Globex's secret caption")
    for path in ("/sandbox/", "/sandbox/?id=x"):
        response = web.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/signin?next=/sandbox/")
        assert "caption" not in response.text


def test_signed_in_the_page_shows_only_the_users_company(signed_in: Browser, web_app,
                                                         herald, company):
    ours = publish(web_app, company[1], "Acme's launch caption")
    publish(web_app, other_company(herald), "Globex's secret caption")
    page = signed_in.get("/sandbox/")
    assert page.status_code == 200
    assert "Acme&#x27;s launch caption" in page.text and ours in page.text
    assert "Globex" not in page.text
    assert "1 published" in page.text


def test_the_page_is_not_there_without_the_sandbox(herald, member):
    from dataclasses import replace

    from tests.app.web.conftest import build_app, sign_in

    with TestClient(build_app(replace(herald, sandbox=None)), follow_redirects=False) as client:
        assert sign_in(client, member.email).get("/sandbox/").status_code == 404


def test_the_page_shows_captions_and_links_as_the_platform_would(signed_in: Browser,
                                                                  web_app, company):
    """LinkedIn's escapes rendered away, a link post as a link (not a broken image), in
    Herald's own layout (issue 17, the first hour)."""
    with TestClient(web_app) as api:
        member = api.post("/api/v1/accounts", headers={"Authorization": f"Bearer {company[1]}"},
                          json={"platform": "linkedin", "name": "Me", "sandbox": True}).json()
    from herald.platforms.linkedin.ltf import escape_commentary, render_commentary

    raw = "Launch (v2) is *here* — mail me @ x_y"
    sent = escape_commentary(raw)
    state = sandbox_of(web_app).state
    when = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    state.record_published(PublishedRecord(
        platform="linkedin", account=member["external_id"], kind="text", caption=sent,
        shown_caption=render_commentary(sent), media_urls=(), external_id="urn:li:share:1",
        permalink=None, published_at=when))
    page_ = publish(web_app, company[1], "A link post")
    state.record_published(PublishedRecord(
        platform="facebook", account=page_, kind="link", caption="Read this",
        media_urls=("https://example.com/article",), external_id=f"{page_}_2",
        permalink=None, published_at=when))
    html = signed_in.get("/sandbox/").text
    assert "Launch (v2) is *here* — mail me @ x_y" in html and "\\(" not in html
    assert '<a href="https://example.com/article">https://example.com/article</a>' in html
    assert '<img src="https://example.com/article"' not in html
    assert 'aria-label="Main"' in html and "/static/herald.css" in html
