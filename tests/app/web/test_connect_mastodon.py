"""Connecting a Mastodon account through its instance's own sign-in, over real HTTP to the
fake instance: the person names the instance, Herald registers itself there once
(POST /api/v1/apps), the dialog answers with a code, /oauth/token gives the token, and the
account is saved with its instance as server_url and publishes."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from herald.models import OAuthServerApp
from herald.platforms.fake import FakeServer
from herald.platforms.mastodon import instance
from herald.platforms.mastodon.fake import store as masto
from herald.runtime import Herald
from tests.app.web.test_connect import accounts, flashes, pick_form, publish, query_of, token_of

CALLBACK = "http://testserver/accounts/connect/mastodon/callback"


@pytest.fixture
def fake(herald: Herald) -> Iterator[FakeServer]:
    instance.forget()
    with FakeServer() as server:
        masto.add_account(server.state, "alice", "alices-own-token", name="Alice A.")
        herald.settings.allow_private_server_urls = True
        yield server
    instance.forget()


def server_of(fake: FakeServer) -> str:
    return f"{fake.url}/mastodon"


def start(browser, fake: FakeServer) -> str:
    response = browser.get("/accounts/connect/mastodon", params={"server": server_of(fake)})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def consent(dialog: str) -> str:
    response = httpx.get(dialog, timeout=10)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["location"])
    return f"{back.path}?{back.query}"


def test_the_instance_is_asked_first(fake, signed_in) -> None:
    page = signed_in.get("/accounts/connect/mastodon")
    assert page.status_code == 200 and 'name="server"' in page.text
    assert "Connect Mastodon" in signed_in.get("/accounts").text


def test_an_account_is_connected_through_its_instance_and_publishes(fake, signed_in, herald,
                                                                   company) -> None:
    dialog = start(signed_in, fake)
    assert dialog.startswith(f"{server_of(fake)}/oauth/authorize?")
    asked = query_of(dialog)
    assert asked["scope"] == "read write:statuses write:media"
    assert asked["redirect_uri"] == CALLBACK and len(asked["state"]) > 30
    [app] = masto.apps(fake.state)
    assert app.redirect_uris == [CALLBACK] and asked["client_id"] == app.client_id

    page = signed_in.get(consent(dialog))
    assert page.status_code == 200, page.text
    sealed, boxes = pick_form(page.text)
    host = urlsplit(fake.url).hostname
    assert boxes == {f"mastodon:alice@{host}": False}
    response = signed_in.post("/accounts/connect/mastodon",
                              data={"offer": sealed, "pick": [f"mastodon:alice@{host}"]})
    assert response.status_code == 303, response.text
    assert "Connected Mastodon Alice A." in flashes(signed_in)
    [(account, token)] = accounts(herald, company[0]).values()
    assert account.server_url == server_of(fake) and account.name == "Alice A."
    assert token_of(herald, token).startswith("fake-mastodon-")
    assert publish(herald, company[0], dict(account_id=account.id, post_type="text",
                                            caption="Hello from OAuth")) == ["published"]

    # A second sign-in on the same instance uses the app registered the first time.
    consent(start(signed_in, fake))
    assert len(masto.apps(fake.state)) == 1
    with herald.db.session() as session:
        [row] = session.scalars(select(OAuthServerApp)).all()
        assert row.client_id == app.client_id and app.client_secret not in row.client_secret_enc


def test_a_plain_http_instance_is_refused_unless_allowed(fake, signed_in, herald) -> None:
    herald.settings.allow_private_server_urls = False
    response = signed_in.get("/accounts/connect/mastodon", params={"server": server_of(fake)})
    assert response.status_code == 303 and response.headers["location"] == "/accounts"
    assert "https://" in flashes(signed_in)
    assert masto.apps(fake.state) == []


def test_a_server_that_is_not_mastodon_connects_nothing(fake, signed_in) -> None:
    response = signed_in.get("/accounts/connect/mastodon",
                             params={"server": f"{fake.url}/nothing"})
    assert response.status_code == 303
    assert "would not register Herald" in flashes(signed_in)


def test_a_refused_dialog_connects_nothing(fake, signed_in, herald, company) -> None:
    dialog = start(signed_in, fake)
    back = signed_in.get(f"/accounts/connect/mastodon/callback?state={query_of(dialog)['state']}"
                         "&error=access_denied&error_description=The+user+said+no")
    assert back.status_code == 303
    assert "The user said no" in flashes(signed_in)
    assert accounts(herald, company[0]) == {}
