"""Instagram Login through the fake, over real HTTP, with Herald's own connect flow and
token calls: dialog → code (api.instagram.com) → long-lived token (graph.instagram.com) →
/me → publishing on graph.instagram.com; the refresh and its 24-hour rule; and that each
host takes only its own tokens."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from herald.connect.base import ConnectError
from herald.platforms.base import PermanentError
from herald.platforms.instagram_login.fake.routes import app_scoped_id
from herald.platforms.instagram_login.oauth import (
    InstagramApp,
    authorization_url,
    callback_problem,
    fetch_offer,
)
from herald.platforms.instagram_login.tokens import refresh_long_lived
from tests.unit.fake.conftest import IG_TOKEN, IG_USER

APP_ID = "990011223344"
SECRET = "ig-app-secret"
REDIRECT = "https://herald.test/accounts/connect/instagram_login/callback"
ACCOUNT = "17841455500000001"
DAY = 86_400


@pytest.fixture
def app(server, state) -> InstagramApp:
    state.add_oauth_app("instagram_login", APP_ID, SECRET, [REDIRECT], name="Herald")
    from herald.platforms.instagram_login.fake.oauth import add_user

    add_user(state, ACCOUNT, "Acme Studio", {"username": "acme.studio"})
    base = server.instagram_url
    return InstagramApp(APP_ID, SECRET, f"{base}/oauth/authorize",
                        f"{base}/oauth/access_token", base, "v25.0")


def _code(app: InstagramApp, *, deny: bool = False) -> dict[str, str]:
    url = authorization_url(app, redirect_uri=REDIRECT, state="s1")
    response = httpx.get(url + ("&auto=deny" if deny else "&auto=1"))
    assert response.status_code == 302, response.text
    parts = urlsplit(response.headers["location"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT
    assert parts.fragment == "_"  # Instagram's "#_"
    return dict(parse_qsl(parts.query))


async def test_connecting_through_instagram_login_offers_the_account(app, state):
    params = _code(app)
    assert params["state"] == "s1" and callback_problem(params) is None
    async with httpx.AsyncClient() as client:
        offer = await fetch_offer(client, app, code=params["code"], redirect_uri=REDIRECT)
    [candidate] = offer.candidates
    # user_id (the professional account's id), never /me's app-scoped id.
    assert candidate.external_id == ACCOUNT != app_scoped_id(ACCOUNT)
    assert candidate.platform == "instagram_login" and candidate.name == "@acme.studio"
    assert candidate.refresh_token is None and candidate.token_expires_at is not None
    token = state.token("instagram_login", candidate.access_token)
    assert token is not None and token.long_lived and ACCOUNT in token.accounts
    # The long-lived token publishes on graph.instagram.com …
    async with httpx.AsyncClient(base_url=f"{app.api_url}/v25.0") as client:
        headers = {"Authorization": f"Bearer {candidate.access_token}"}
        answer = await client.get(f"{ACCOUNT}/content_publishing_limit", headers=headers)
        assert answer.status_code == 200, answer.text
    # … and is refused on graph.facebook.com, which knows only its own tokens.
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{app.api_url.removesuffix('/instagram')}/graph/v25.0/"
                                  f"{ACCOUNT}", headers=headers)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == 190


async def test_a_code_is_good_once_and_a_wrong_secret_is_named(app):
    params = _code(app)
    wrong = InstagramApp(APP_ID, "not-the-secret", app.auth_url, app.token_url, app.api_url)
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConnectError, match="HERALD_INSTAGRAM_APP_SECRET") as refused:
            await fetch_offer(client, wrong, code=params["code"], redirect_uri=REDIRECT)
        assert "not-the-secret" not in refused.value.message
        await fetch_offer(client, app, code=params["code"], redirect_uri=REDIRECT)
        with pytest.raises(ConnectError, match="has been used"):
            await fetch_offer(client, app, code=params["code"], redirect_uri=REDIRECT)


def test_cancelling_the_dialog_is_said_in_words(app):
    params = _code(app, deny=True)
    assert params["error_reason"] == "user_denied"
    assert callback_problem(params) == "You cancelled Instagram's sign-in, so nothing was " \
                                       "connected."


async def test_a_long_lived_token_refreshes_after_a_day_not_before(server, state):
    state.add_account("instagram_login", IG_USER, IG_TOKEN)
    url = f"{server.instagram_url}/refresh_access_token"
    async with httpx.AsyncClient() as client:
        with pytest.raises(PermanentError, match="24 hours"):
            await refresh_long_lived(client, token_url=url, token=IG_TOKEN)
        state.advance(DAY + 60)
        fresh = await refresh_long_lived(client, token_url=url, token=IG_TOKEN)
    assert fresh.access_token != IG_TOKEN and fresh.refresh_token is None
    assert fresh.expires_at is not None
    record = state.token("instagram_login", fresh.access_token)
    assert record is not None and IG_USER in record.accounts


async def test_an_expired_token_cannot_be_refreshed(server, state):
    from herald.platforms.base import NeedsReauthError

    state.add_account("instagram_login", IG_USER, IG_TOKEN, token_expires_in=2 * DAY)
    state.advance(3 * DAY)
    async with httpx.AsyncClient() as client:
        with pytest.raises(NeedsReauthError) as refused:
            await refresh_long_lived(client, token_url=f"{server.instagram_url}/"
                                     "refresh_access_token", token=IG_TOKEN)
    assert IG_TOKEN not in refused.value.message


async def test_facebook_login_tokens_do_not_open_graph_instagram_com(server, state):
    state.add_instagram_account(IG_USER, IG_TOKEN)  # an Instagram account via Facebook Login
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{server.instagram_url}/v25.0/{IG_USER}",
                                  headers={"Authorization": f"Bearer {IG_TOKEN}"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == 190


def test_the_admin_api_registers_the_app_and_who_signs_in(server, state):
    admin = httpx.Client(base_url=f"{server.url}/_fake")
    for body in ({"platform": "instagram_login", "id": "17841455500000002", "name": "First",
                  "username": "first.one"},
                 {"platform": "instagram_login", "id": "17841455500000003", "name": "Second",
                  "username": "second.one"}):
        assert admin.post("/oauth/users", json=body).status_code == 201
    assert admin.post("/oauth/apps", json={
        "platform": "instagram_login", "client_id": APP_ID, "client_secret": SECRET,
        "redirect_uris": [REDIRECT]}).status_code == 201
    assert state.logged_in("instagram_login") == "17841455500000002"
    assert admin.post("/oauth/login", json={"platform": "instagram_login",
                                            "user": "17841455500000003"}).json() == {"ok": True}
    assert state.logged_in("instagram_login") == "17841455500000003"
    assert state.account("17841455500000003").username == "second.one"
