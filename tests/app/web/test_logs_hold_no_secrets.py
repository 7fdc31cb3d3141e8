"""No secret reaches a log line, from any library at any level (issue 13, finding 1).

One run with every logger at DEBUG: both connect flows against the platform fake (the web
UI in a TestClient, over real HTTP to the fake), posts on all three platforms through the
real clients, a LinkedIn token refresh, and an unexpected error whose text holds a URL
with a token in it. Then every formatted line, tracebacks included, and every row of the
database (where tokens are only ever stored encrypted) is searched for every secret the
run used: app secrets, OAuth codes, user, Page, access and refresh tokens, the password,
the API token and Herald's secret key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote, quote_plus

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import update

from herald import services
from herald.models import SocialToken, utcnow
from herald.platforms.base import PublisherRegistry, PublishJob, PublishResult
from herald.platforms.fake import FakeServer
from herald.runtime import Herald
from herald.schemas import PostCreate
from tests.app.test_publish_e2e import drain
from tests.app.web.conftest import PASSWORD, Browser
from tests.app.web.test_connect import CALLBACK, accounts, consent, pick_form, publish, start
from tests.conftest import SECRET
from tests.media_files import image_bytes

# Random per run, so a hit can only be this run's secret.
APP_ID, APP_SECRET = "5566778899", f"fb-app-secret-{secrets.token_hex(8)}"
CLIENT_ID, CLIENT_SECRET = "li-client-id", f"li-client-secret-{secrets.token_hex(8)}"
PAGE, IG, MEMBER_ID = "100000000000007", "17841400000000007", "Mem7ber"


class Lines(logging.Handler):
    """Every record, formatted as a handler prints it (tracebacks and stacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeServer, herald: Herald) -> FakeServer:
    state = fake_server.state
    state.reset()
    state.add_oauth_app("facebook", APP_ID, APP_SECRET, [CALLBACK.format("facebook")])
    state.add_facebook_user("10150000000000077", "Fay", pages=[(PAGE, "Page", IG)])
    state.add_oauth_app("linkedin", CLIENT_ID, CLIENT_SECRET, [CALLBACK.format("linkedin")])
    state.add_linkedin_user(MEMBER_ID, "Lin")
    state.add_file("square.jpg", image_bytes(size=(1080, 1080)), "image/jpeg")
    for name, value in {
        "facebook_app_id": APP_ID, "facebook_app_secret": SecretStr(APP_SECRET),
        "graph_api_url": fake_server.graph_url, "facebook_dialog_url": fake_server.facebook_url,
        "linkedin_client_id": CLIENT_ID, "linkedin_client_secret": SecretStr(CLIENT_SECRET),
        "linkedin_api_url": fake_server.linkedin_url,
        "linkedin_auth_url": f"{fake_server.linkedin_url}/oauth/v2/authorization",
        "linkedin_token_url": f"{fake_server.linkedin_url}/oauth/v2/accessToken",
    }.items():
        setattr(herald.settings, name, value)
    return fake_server


@pytest.fixture
def every_line(fake: FakeServer) -> Iterator[list[str]]:
    """Every logger at DEBUG (those with a level of their own too), all into one list."""
    handler = Lines()
    root = logging.getLogger()
    loggers = [root, *(lg for lg in logging.root.manager.loggerDict.values()
                       if isinstance(lg, logging.Logger))]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        if lg is root or lg.level != logging.NOTSET:
            lg.setLevel(logging.DEBUG)
        lg.disabled = False
        if lg is root or not lg.propagate:  # uvicorn's access log does not propagate
            lg.addHandler(handler)
    try:
        yield handler.lines
    finally:
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled
            lg.removeHandler(handler)


def connect_all(browser: Browser, flow: str) -> None:
    """Through the platform's dialog and the pick page, ticking every account offered."""
    page = browser.get(consent(start(browser, flow)))
    assert page.status_code == 200, page.text
    sealed, boxes = pick_form(page.text)
    response = browser.post(f"/accounts/connect/{flow}", data={"offer": sealed,
                                                               "pick": list(boxes)})
    assert response.status_code == 303


class CarelessPublisher:
    """A bug of the kind the net is for: the token in a query string, an unmapped httpx
    error (its text holds the URL) logged with its traceback by the worker."""

    platform = "facebook"

    def __init__(self, graph_url: str) -> None:
        self.graph_url = graph_url

    async def publish(self, job: PublishJob) -> PublishResult:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{self.graph_url}/v25.0/{PAGE}/no-such-edge",
                                        params={"access_token": job.account.access_token})
            response.raise_for_status()
        raise AssertionError("the fake answered a path it does not have")


def fail_unexpectedly(herald: Herald, company_id: str, account_id: str, graph_url: str
                      ) -> None:
    # No time budget: the post fails after its attempts instead of retrying for hours.
    careless = Herald.build(herald.settings.model_copy(update={"retry_budget_seconds": 0}),
                            db=herald.db, registry=PublisherRegistry())
    careless.registry.register(CarelessPublisher(graph_url))
    with careless.db.session() as session:
        ids = [p.id for p in services.create_posts(session, careless.context(company_id),
               PostCreate(run_at="now", account_id=account_id, post_type="text",
                          caption="careless"))]
    posts = asyncio.run(drain(careless, ids))
    assert all("Internal error: HTTPStatusError" in (p.error_message or "")
               for p in posts.values()), [p.error_message for p in posts.values()]


def used_secrets(fake: FakeServer, company_token: str) -> dict[str, str]:
    data = fake.state.data
    found = {"Facebook app secret": APP_SECRET, "LinkedIn client secret": CLIENT_SECRET,
             "password": PASSWORD, "API token": company_token, "HERALD_SECRET_KEY": SECRET}
    for kind, values in (("OAuth code", data.oauth_codes), ("Graph token", data.graph_tokens),
                         ("LinkedIn token", data.linkedin_tokens),
                         ("LinkedIn refresh token", data.li_refresh_tokens)):
        found.update({f"{kind} {value[:10]}…": value for value in values})
    return found


def leaks(texts: list[str], found: dict[str, str]) -> dict[str, str]:
    """Each secret that appears (as is or URL-encoded) → the first text it appears in."""
    out: dict[str, str] = {}
    for name, value in found.items():
        forms = {value, quote(value, safe=""), quote_plus(value)}
        hit = next((t for t in texts if any(f in t for f in forms)), None)
        if hit is not None:
            out[name] = hit[:300]
    return out


def database_text(database_url: str) -> list[str]:
    with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as conn:
        return list(conn.iterdump())


def test_no_secret_reaches_a_log_line_or_a_stored_message(
        fake, every_line, signed_in, herald, company, database_url):
    connect_all(signed_in, "facebook")
    connect_all(signed_in, "linkedin")
    saved = accounts(herald, company[0])
    assert set(saved) == {PAGE, IG, f"urn:li:person:{MEMBER_ID}"}
    member = saved[f"urn:li:person:{MEMBER_ID}"][0]
    # Due for a refresh: the worker refreshes it before publishing.
    with herald.db.session() as session:
        session.execute(update(SocialToken).where(SocialToken.account_id == member.id)
                        .values(expires_at=utcnow() + timedelta(days=1)))
    before = set(fake.state.data.linkedin_tokens)
    image = [{"url": f"{fake.url}/_fake/files/square.jpg", "type": "image"}]
    assert publish(herald, company[0],
                   dict(account_id=saved[PAGE][0].id, post_type="text", caption="FB"),
                   dict(account_id=saved[IG][0].id, post_type="feed", caption="IG",
                        media=image),
                   dict(account_id=member.id, post_type="text", caption="LI"),
                   ) == ["published"] * 3
    assert set(fake.state.data.linkedin_tokens) - before, "the LinkedIn token was not refreshed"
    fail_unexpectedly(herald, company[0], saved[PAGE][0].id, fake.graph_url)

    found = used_secrets(fake, company[1])
    assert len(found) > 12  # codes and tokens of both flows, the refresh's, the Page's
    assert any("HTTP Request: POST" in line for line in every_line)  # httpx did log
    assert any("Traceback" in line and "HTTPStatusError" in line for line in every_line)
    leaked = leaks(every_line, found)
    assert not leaked, "secrets in the log:\n" + "\n".join(
        f"- {name}: {line}" for name, line in leaked.items())
    stored = leaks(database_text(database_url), found)
    assert not stored, "secrets stored in the clear:\n" + "\n".join(
        f"- {name}: {row}" for name, row in stored.items())
