"""Connecting a Threads profile through Threads' sign-in, over real HTTP to the platform
fake's dialog and token endpoints; the token it stores publishes, and renews."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from herald.models import utcnow
from herald.platforms.fake import FakeServer
from herald.platforms.threads.fake import store
from herald.platforms.threads.oauth import refresh_long_lived
from herald.runtime import Herald
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

APP_ID, APP_SECRET, USER = "th-app-1", "th-app-secret", "26000000555"


@pytest.fixture
def fake(herald: Herald) -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.state.add_oauth_app("threads", APP_ID, APP_SECRET,
                                   [CALLBACK.format("threads")], name="Herald")
        store.add_user(server.state, USER, "Thea Reads", {"username": "thea"})
        for name, value in {
            "threads_app_id": APP_ID, "threads_app_secret": SecretStr(APP_SECRET),
            "threads_api_url": f"{server.url}/threads",
            "threads_auth_url": f"{server.url}/threads/oauth/authorize",
        }.items():
            setattr(herald.settings, name, value)
        yield server


def test_threads_connects_the_profile_with_a_long_lived_token(fake, signed_in, herald,
                                                               company):
    dialog = start(signed_in, "threads")
    assert dialog.startswith(f"{fake.url}/threads/oauth/authorize?")
    asked = query_of(dialog)
    assert (asked["client_id"], asked["response_type"]) == (APP_ID, "code")
    assert asked["scope"] == "threads_basic,threads_content_publish,threads_manage_replies"
    page = signed_in.get(consent(dialog))
    assert page.status_code == 200, page.text
    assert "Thea Reads" in page.text and "@thea on Threads" in page.text
    sealed, boxes = pick_form(page.text)
    assert list(boxes) == [f"threads:{USER}"]
    before = utcnow()
    response = signed_in.post("/accounts/connect/threads", data={"offer": sealed,
                                                                  "pick": list(boxes)})
    assert response.status_code == 303
    assert "Connected Threads Thea Reads." in flashes(signed_in)
    account, token = accounts(herald, company[0])[USER]
    assert account.platform == "threads"
    assert token.expires_at is not None
    assert timedelta(days=59) < token.expires_at.replace(tzinfo=before.tzinfo) - before \
        < timedelta(days=61)

    assert publish(herald, company[0], dict(account_id=account.id, post_type="text",
                                            caption="Connected")) == ["published"]
    [thread] = store.posts(fake.state, USER)
    assert thread.text == "Connected"

    async def renewed() -> str:
        async with httpx.AsyncClient() as client:
            tokens = await refresh_long_lived(client, api_url=herald.settings.threads_api_url,
                                              token=token_of(herald, token))
        return tokens.access_token

    assert asyncio.run(renewed()) != token_of(herald, token)


def test_cancelling_threads_sign_in_connects_nothing(fake, signed_in, herald, company):
    back = consent(start(signed_in, "threads"), answer="deny")
    signed_in.get(back)
    assert "You cancelled Threads' sign-in, so nothing was connected." in flashes(signed_in)
    assert accounts(herald, company[0]) == {}
