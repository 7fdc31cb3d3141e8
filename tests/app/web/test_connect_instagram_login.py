"""Connecting an Instagram account with no Facebook Page through Instagram Login, from the
Accounts page, over real HTTP to the platform fake; then publishing with the stored
long-lived token through graph.instagram.com."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from herald.platforms.fake import FakeServer
from herald.runtime import Herald
from tests.app.web.conftest import Browser
from tests.app.web.test_connect import (
    CALLBACK,
    accounts,
    consent,
    flashes,
    pick_form,
    publish,
    query_of,
    start,
    token_of,
)
from tests.media_files import image_bytes

APP_ID, APP_SECRET = "990011223344", "ig-app-secret"
IG = "17841455500000001"
FLOW = "instagram_login"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeServer, herald: Herald) -> FakeServer:
    state = fake_server.state
    state.reset()
    state.add_oauth_app(FLOW, APP_ID, APP_SECRET, [CALLBACK.format(FLOW)], name="Herald")
    from herald.platforms.instagram_login.fake.oauth import add_user

    add_user(state, IG, "Acme Studio", {"username": "acme.studio"})
    base = fake_server.instagram_url
    for name, value in {
        "instagram_app_id": APP_ID, "instagram_app_secret": SecretStr(APP_SECRET),
        "instagram_api_url": base, "instagram_auth_url": f"{base}/oauth/authorize",
        "instagram_token_url": f"{base}/oauth/access_token",
    }.items():
        setattr(herald.settings, name, value)
    return fake_server


def test_instagram_login_adds_the_account_with_a_long_lived_token_that_publishes(
        fake: FakeServer, signed_in: Browser, herald: Herald, company) -> None:
    assert "Connect Instagram (Instagram Login)" in signed_in.get("/accounts").text
    dialog = start(signed_in, FLOW)
    assert dialog.startswith(f"{fake.instagram_url}/oauth/authorize?")
    asked = query_of(dialog)
    assert asked["client_id"] == APP_ID and asked["response_type"] == "code"
    assert asked["scope"] == ("instagram_business_basic,instagram_business_content_publish,"
                              "instagram_business_manage_comments")
    assert asked["redirect_uri"] == CALLBACK.format(FLOW)

    page = signed_in.get(consent(dialog))
    assert page.status_code == 200, page.text
    assert "@acme.studio" in page.text and APP_SECRET not in page.text
    sealed, boxes = pick_form(page.text)
    assert boxes == {f"{FLOW}:{IG}": False}
    response = signed_in.post(f"/accounts/connect/{FLOW}",
                              data={"offer": sealed, "pick": [f"{FLOW}:{IG}"]})
    assert response.status_code == 303, response.text
    assert "Connected Instagram (Instagram Login) @acme.studio" in flashes(signed_in)

    [(account, token)] = accounts(herald, company[0]).values()
    assert (account.platform, account.external_id, account.state) == (FLOW, IG, "active")
    stored = token_of(herald, token)
    record = fake.state.token(FLOW, stored)
    assert record is not None and record.long_lived  # the exchanged token, not the hour's
    assert token.expires_at is not None and token.refresh_token_enc is None

    fake.state.add_file("square.jpg", image_bytes(size=(1080, 1080)), "image/jpeg")
    image = [{"url": f"{fake.url}/_fake/files/square.jpg", "type": "image"}]
    assert publish(herald, company[0], dict(account_id=account.id, post_type="feed",
                                            caption="Hi from Instagram Login",
                                            media=image)) == ["published"]
    assert [(r.platform, r.account) for r in fake.state.published()] == [(FLOW, IG)]


def test_without_the_app_the_page_says_what_to_set(signed_in: Browser) -> None:
    response = signed_in.get(f"/accounts/connect/{FLOW}")
    assert (response.status_code, response.headers["location"]) == (303, "/accounts")
    assert "set HERALD_INSTAGRAM_APP_ID and HERALD_INSTAGRAM_APP_SECRET" in flashes(signed_in)
