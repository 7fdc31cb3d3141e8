"""Connect Facebook in a real browser: Herald's Connect button, the fake's Facebook Login
consent page (its HTML, not the auto-approve shortcut), the pick list, the accounts added.

Runs on SQLite only, like the other browser tests; saves connect-facebook.png where they
save theirs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from herald.config import Settings
from herald.platforms.fake import FakeServer
from herald.runtime import Herald
from tests.app.web.conftest import Member, add_member
from tests.process.browser.live import LiveHerald, start_live
from tests.process.browser.test_browser import DESKTOP, browser, shot, sign_in  # noqa: F401 (fixture)

APP_ID, APP_SECRET = "1122334455", "fb-app-secret"
PAGE, SIDE_PAGE, IG = "100000000000001", "100000000000002", "17841400000000001"


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def live(herald: Herald, settings: Settings, fake: FakeServer) -> Iterator[LiveHerald]:
    if herald.db.dialect != "sqlite":
        pytest.skip("browser tests run on SQLite only")
    server = start_live(settings.model_copy(update={
        "facebook_app_id": APP_ID, "facebook_app_secret": SecretStr(APP_SECRET),
        "graph_api_url": fake.graph_url, "facebook_dialog_url": fake.facebook_url}))
    # The app's redirect URI names the port the live Herald got.
    fake.state.add_oauth_app("facebook", APP_ID, APP_SECRET,
                             [f"{server.url}/accounts/connect/facebook/callback"],
                             name="Herald")
    fake.state.add_facebook_user("10150000000000042", "Fay Kuser", pages=[
        (PAGE, "Acme Bakery", IG), (SIDE_PAGE, "Acme Catering", None)])
    yield server
    server.stop()


@pytest.fixture
def member(live: LiveHerald, company: tuple[str, str]) -> Member:
    return add_member(live.herald, company[0])


@pytest.fixture
def tab(live: LiveHerald, browser: Any) -> Iterator[Any]:  # noqa: F811 (the fixture)
    context = browser.new_context(viewport=DESKTOP, base_url=live.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def console(msg: Any) -> None:
        # The fake's consent page has no favicon; Chromium asks for /favicon.ico anyway.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{msg.text} ({msg.location.get('url')})")

    page.on("console", console)
    yield page
    context.close()
    assert not errors, errors


def test_connect_facebook_through_the_consent_page(
    live: LiveHerald, fake: FakeServer, tab: Any, member: Member
) -> None:
    sign_in(tab, member)
    tab.goto("/accounts")
    tab.get_by_role("link", name="Connect Facebook Pages and Instagram").click()

    # The fake's Facebook Login page, as a person sees it.
    tab.wait_for_url(re.compile(re.escape(fake.facebook_url)))
    assert tab.get_by_role("heading", name="Log in with Facebook").is_visible()
    assert tab.get_by_text("Page: Acme Bakery (Instagram @fake_000001)").is_visible()
    tab.get_by_role("button", name="Allow").click()

    # Back in Herald: the accounts that sign-in reached, to pick from.
    tab.wait_for_url(re.compile(r"/accounts/connect/facebook/callback"))
    assert tab.get_by_role("heading", name="Connect Facebook Pages and Instagram").is_visible()
    assert tab.get_by_text("No Instagram professional account is linked").is_visible()
    tab.get_by_role("checkbox", name=re.compile("^Facebook Acme Bakery")).check()
    tab.get_by_role("checkbox", name=re.compile("@fake_000001")).check()
    shot(tab, "connect-facebook")
    tab.get_by_role("button", name="Connect the ticked accounts").click()

    tab.wait_for_url(re.compile(r"/accounts$"))
    assert tab.get_by_text("Connected Facebook Acme Bakery, Instagram @fake_000001.").is_visible()
    assert tab.get_by_role("heading", name=re.compile("Acme Bakery")).is_visible()
    assert tab.get_by_role("heading", name=re.compile("@fake_000001")).is_visible()
    assert tab.get_by_role("heading", name=re.compile("Acme Catering")).count() == 0
    shot(tab, "accounts-connected")
