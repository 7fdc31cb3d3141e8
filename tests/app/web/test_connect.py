"""Connecting accounts through Facebook Login and LinkedIn's sign-in, over real HTTP to the
platform fake: Herald's app in a TestClient plays the server, an httpx client the browser's
trip through the platform's dialog (answered at once with the fake's auto=1 / auto=deny)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from herald import services
from herald.models import SocialAccount, SocialToken, utcnow
from herald.platforms.fake import FakeServer
from herald.platforms.linkedin.client import refresh_access_token
from herald.runtime import Herald
from herald.schemas import PostCreate
from tests.app.test_publish_e2e import drain
from tests.app.web.conftest import Browser, add_member, build_app, sign_in
from tests.helpers import add_account
from tests.media_files import image_bytes

APP_ID, APP_SECRET = "1122334455", "fb-app-secret"
CLIENT_ID, CLIENT_SECRET = "78abcdefgh", "li-client-secret"
FB_USER, PAGE, SIDE_PAGE, IG = "10150000000000042", "100000000000001", "100000000000002", \
    "17841400000000001"
MEMBER_ID, ORG_ID, ANALYST_ORG = "Xy12abCD", "1000001", "1000002"
MEMBER, ORG = f"urn:li:person:{MEMBER_ID}", f"urn:li:organization:{ORG_ID}"
CALLBACK = "http://testserver/accounts/connect/{}/callback"
FB_SCOPES = ("pages_show_list,pages_read_engagement,pages_manage_posts,instagram_basic,"
             "instagram_content_publish,business_management")
LI_SCOPES = "openid profile w_member_social r_organization_admin w_organization_social"
_OFFER = re.compile(r'name="offer" value="([^"]+)"')
_PICK = re.compile(r'name="pick" value="([^"]+)"( checked)?')


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeServer, herald: Herald) -> FakeServer:
    """The fake with both apps and a user on each platform; Herald configured to use it."""
    state = fake_server.state
    state.reset()
    state.add_oauth_app("facebook", APP_ID, APP_SECRET, [CALLBACK.format("facebook")],
                        name="Herald")
    state.add_facebook_user(FB_USER, "Fay Kuser", pages=[(PAGE, "Herald Page", IG),
                                                         (SIDE_PAGE, "Side Page", None)])
    state.add_oauth_app("linkedin", CLIENT_ID, CLIENT_SECRET, [CALLBACK.format("linkedin")],
                        name="Herald")
    state.add_linkedin_user(MEMBER_ID, "Lin Kedin", organizations=[
        (ORG_ID, "Herald Inc"), (ANALYST_ORG, "Numbers Co", "ANALYST")])
    # The settings are read on each request, so the app built by the `web` fixture sees them.
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


# --- helpers ---------------------------------------------------------------------------------


def start(browser: Browser, flow: str) -> str:
    """Click Connect: the URL of the platform's dialog Herald sends the browser to."""
    response = browser.get(f"/accounts/connect/{flow}")
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def consent(dialog_url: str, answer: str = "1") -> str:
    """The person answers the dialog; the path and query it sends the browser back to."""
    response = httpx.get(f"{dialog_url}&auto={answer}", timeout=10)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["location"])  # Facebook's "#_=_" fragment is dropped
    assert f"{back.scheme}://{back.netloc}" == "http://testserver"
    return f"{back.path}?{back.query}"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def pick_form(html: str) -> tuple[str, dict[str, bool]]:
    """The sealed offer and the checkboxes (value → ticked) of the pick page."""
    offer = _OFFER.search(html)
    assert offer, html
    return unescape(offer.group(1)), {unescape(v): bool(c) for v, c in _PICK.findall(html)}


def connect(browser: Browser, flow: str) -> str:
    """Through the dialog to the pick page; its HTML."""
    response = browser.get(consent(start(browser, flow)))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.text


def flashes(browser: Browser) -> str:
    """The Accounts page as text, with this session's messages on it."""
    return unescape(browser.get("/accounts").text)


def accounts(herald: Herald, company_id: str) -> dict[str, tuple[SocialAccount, SocialToken]]:
    with herald.db.session() as session:
        rows = session.execute(
            select(SocialAccount, SocialToken)
            .join(SocialToken, SocialToken.account_id == SocialAccount.id)
            .where(SocialAccount.company_id == company_id)).all()
        return {a.external_id: (a, t) for a, t in rows}


def token_of(herald: Herald, row: SocialToken) -> str:
    return herald.cipher.decrypt(row.access_token_enc)


def publish(herald: Herald, company_id: str, *plan: dict[str, object]) -> list[str]:
    """Post now through the real worker and clients to the fake; the statuses."""
    publishing = Herald.build(herald.settings, db=herald.db, platforms=True, quick=True)
    with publishing.db.session() as session:
        ids = [p.id for fields in plan for p in services.create_posts(
            session, publishing.context(company_id), PostCreate(run_at="now", **fields))]
    posts = asyncio.run(drain(publishing, ids))
    return [f"{p.status} {p.error_message or ''}".strip() for p in posts.values()]


# --- Facebook --------------------------------------------------------------------------------


def test_facebook_adds_a_page_and_its_instagram_with_page_tokens_that_publish(
        fake, signed_in, herald, company):
    dialog = start(signed_in, "facebook")
    assert dialog.startswith(f"{fake.facebook_url}/v25.0/dialog/oauth?")
    asked = query_of(dialog)
    assert asked["client_id"] == APP_ID and asked["scope"] == FB_SCOPES
    assert asked["redirect_uri"] == CALLBACK.format("facebook") and len(asked["state"]) > 30

    page = signed_in.get(consent(dialog))
    assert page.status_code == 200, page.text
    assert "Herald Page" in page.text and "@fake_000001" in page.text
    assert "Side Page" in page.text and "No Instagram professional account" in page.text
    sealed, boxes = pick_form(page.text)
    assert boxes == {f"facebook:{PAGE}": False, f"instagram:{IG}": False,
                     f"facebook:{SIDE_PAGE}": False}
    assert APP_SECRET not in page.text
    assert accounts(herald, company[0]) == {}  # nothing saved before the pick

    response = signed_in.post("/accounts/connect/facebook", data={
        "offer": sealed, "pick": [f"facebook:{PAGE}", f"instagram:{IG}", f"facebook:{SIDE_PAGE}"]})
    assert response.status_code == 303, response.text
    shown = flashes(signed_in)
    assert ("Connected Facebook Herald Page, Instagram @fake_000001, Facebook Side Page."
            in shown)
    assert "Side Page: No Instagram professional account is linked" in shown

    saved = accounts(herald, company[0])
    assert {k: (a.platform, a.name, a.state) for k, (a, _) in saved.items()} == {
        PAGE: ("facebook", "Herald Page", "active"), IG: ("instagram", "@fake_000001", "active"),
        SIDE_PAGE: ("facebook", "Side Page", "active")}
    page_token = token_of(herald, saved[PAGE][1])
    assert token_of(herald, saved[IG][1]) == page_token != token_of(herald, saved[SIDE_PAGE][1])
    # The pick page carried the tokens only sealed: none shows in its text. (Checking for
    # the "EAA" prefix instead failed now and then: the sealed blob can contain it.)
    assert not any(token_of(herald, t) in page.text for _, t in saved.values())
    assert saved[PAGE][1].expires_at is None and saved[PAGE][1].refresh_token_enc is None
    record = fake.state.token("graph", page_token)
    assert record is not None and record.kind == "page" and record.expires_at is None

    fake.state.add_file("square.jpg", image_bytes(size=(1080, 1080)), "image/jpeg")
    image = [{"url": f"{fake.url}/_fake/files/square.jpg", "type": "image"}]
    assert publish(herald, company[0],
                   dict(account_id=saved[PAGE][0].id, post_type="text", caption="Hi Page"),
                   dict(account_id=saved[IG][0].id, post_type="feed", caption="Hi IG",
                        media=image)) == ["published", "published"]
    assert sorted((r.platform, r.account) for r in fake.state.published()) == [
        ("facebook", PAGE), ("instagram", IG)]


def test_only_the_ticked_accounts_are_added(fake, signed_in, herald, company):
    sealed, _ = pick_form(connect(signed_in, "facebook"))
    response = signed_in.post("/accounts/connect/facebook", data={
        "offer": sealed, "pick": [f"instagram:{IG}", "facebook:not-offered"]})
    assert response.status_code == 303
    assert set(accounts(herald, company[0])) == {IG}


def test_ticking_nothing_asks_again_and_keeps_the_form_usable(fake, signed_in, herald, company):
    sealed, _ = pick_form(connect(signed_in, "facebook"))
    response = signed_in.post("/accounts/connect/facebook", data={"offer": sealed})
    assert response.status_code == 422
    assert "Tick at least one account to connect." in response.text
    again, _ = pick_form(response.text)
    response = signed_in.post("/accounts/connect/facebook", data={
        "offer": again, "pick": [f"facebook:{PAGE}"]})
    assert response.status_code == 303
    assert set(accounts(herald, company[0])) == {PAGE}


def test_reconnecting_updates_the_token_instead_of_duplicating(fake, signed_in, herald, company):
    account_id = add_account(herald, company[0], "facebook", PAGE)
    with herald.db.session() as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None
        account.state, account.state_reason = "needs_reauth", "The token expired."
        account.name = "Old name"
    page = connect(signed_in, "facebook")
    assert "already connected: gets the new token" in page
    sealed, boxes = pick_form(page)
    assert boxes[f"facebook:{PAGE}"] is True  # an account already here comes pre-ticked
    response = signed_in.post("/accounts/connect/facebook", data={
        "offer": sealed, "pick": [k for k, ticked in boxes.items() if ticked]})
    assert response.status_code == 303
    assert "Reconnected Facebook Herald Page with a new token." in flashes(signed_in)
    saved = accounts(herald, company[0])
    assert list(saved) == [PAGE]
    account, token = saved[PAGE]
    assert (account.id, account.state, account.state_reason, account.name) == (
        account_id, "active", None, "Herald Page")
    assert token_of(herald, token) != f"secret-token-{PAGE}"
    assert fake.state.token("graph", token_of(herald, token)) is not None


def test_cancelling_the_dialog_connects_nothing(fake, signed_in, herald, company):
    for flow, said in (("facebook", "You cancelled Facebook Login, so nothing was connected."),
                       ("linkedin", "You cancelled LinkedIn's sign-in, so nothing was "
                                    "connected.")):
        back = consent(start(signed_in, flow), "deny")
        assert "error" in query_of(back) and "code" not in query_of(back)
        response = signed_in.get(back)
        assert (response.status_code, response.headers["location"]) == (303, "/accounts")
        assert said in flashes(signed_in)
    assert accounts(herald, company[0]) == {}


def _code_is_unused(fake: FakeServer, callback: str) -> bool:
    code = fake.state.data.oauth_codes[query_of(callback)["code"]]
    return not code.used


STATE_REFUSED = "could not be matched to a sign-in started here"


def test_a_missing_wrong_or_reused_state_is_refused_before_the_code_is_used(
        fake, signed_in, herald, company):
    callback = consent(start(signed_in, "facebook"))
    path, state = callback.split("?")[0], query_of(callback)["state"]
    code = query_of(callback)["code"]
    for query in (f"code={code}", f"code={code}&state={state}x", f"code={code}&state="):
        response = signed_in.get(f"{path}?{query}")
        assert (response.status_code, response.headers["location"]) == (303, "/accounts")
        assert STATE_REFUSED in flashes(signed_in)
        assert _code_is_unused(fake, callback)
    # A wrong state used up the right one too: even the genuine answer is refused now.
    assert signed_in.get(callback).status_code == 303
    assert _code_is_unused(fake, callback)

    # A state is good once: the page reloaded after a success is refused.
    callback = consent(start(signed_in, "facebook"))
    assert signed_in.get(callback).status_code == 200
    assert signed_in.get(callback).status_code == 303
    assert STATE_REFUSED in flashes(signed_in)
    # A forged callback cannot even put its error text on the page.
    response = signed_in.get(f"{path}?error=access_denied&error_description=Call+0800-SCAM")
    assert response.status_code == 303 and "0800-SCAM" not in flashes(signed_in)
    assert accounts(herald, company[0]) == {}


def test_a_state_started_in_another_browser_is_refused(fake, web_app, signed_in, member,
                                                        herald, company):
    callback = consent(start(signed_in, "facebook"))
    with TestClient(web_app, follow_redirects=False) as other_client:
        other = sign_in(other_client, member.email)
        start(other, "facebook")  # the other browser has a state of its own
        response = other.get(callback)
        assert (response.status_code, response.headers["location"]) == (303, "/accounts")
        assert STATE_REFUSED in flashes(other)
    assert _code_is_unused(fake, callback)


def test_a_refused_code_exchange_is_explained(fake, signed_in, herald, company):
    # The same code twice (each time with a fresh, valid state): Graph's own error body.
    first = consent(start(signed_in, "facebook"))
    assert signed_in.get(first).status_code == 200
    second = consent(start(signed_in, "facebook"))
    reused = f"{second.split('?')[0]}?code={query_of(first)['code']}" \
             f"&state={query_of(second)['state']}"
    response = signed_in.get(reused)
    assert (response.status_code, response.headers["location"]) == (303, "/accounts")
    shown = flashes(signed_in)
    assert ("Facebook refused the sign-in: This authorization code has been used. Nothing "
            "was connected.") in shown

    # A wrong app secret in Herald's settings.
    herald.settings.facebook_app_secret = SecretStr("not-the-secret")
    response = signed_in.get(consent(start(signed_in, "facebook")))
    assert response.status_code == 303
    shown = flashes(signed_in)
    assert "Facebook refused the sign-in: Error validating client secret." in shown
    assert "Check HERALD_FACEBOOK_APP_ID and HERALD_FACEBOOK_APP_SECRET." in shown
    assert "not-the-secret" not in shown

    # The token endpoint down: nothing is half-done.
    herald.settings.facebook_app_secret = SecretStr(APP_SECRET)
    fake.state.add_fault("error", platform="facebook", endpoint="oauth")
    response = signed_in.get(consent(start(signed_in, "facebook")))
    assert response.status_code == 303
    assert "Facebook refused the sign-in" in flashes(signed_in)
    assert accounts(herald, company[0]) == {}


def test_a_user_without_pages_is_told_so(fake, signed_in, herald, company):
    fake.state.add_facebook_user("10150000000000099", "No Pages")
    fake.state.log_in("facebook", "10150000000000099")
    response = signed_in.get(consent(start(signed_in, "facebook")))
    assert response.status_code == 303
    assert "Facebook Login found no account you can publish to" in flashes(signed_in)
    assert accounts(herald, company[0]) == {}


def test_the_pick_form_without_its_csrf_token_is_refused(fake, signed_in, herald, company):
    sealed, _ = pick_form(connect(signed_in, "facebook"))
    response = signed_in.client.post("/accounts/connect/facebook", data={
        "offer": sealed, "pick": [f"facebook:{PAGE}"]})
    assert response.status_code == 403
    assert accounts(herald, company[0]) == {}
    # The genuine form still works, once.
    data = {"offer": sealed, "pick": [f"facebook:{PAGE}"]}
    assert signed_in.post("/accounts/connect/facebook", data=data).status_code == 303
    response = signed_in.post("/accounts/connect/facebook", data=data)
    assert response.status_code == 303
    assert "expired or was already used" in flashes(signed_in)
    assert list(accounts(herald, company[0])) == [PAGE]
    # A forged or mangled offer gets nowhere either.
    response = signed_in.post("/accounts/connect/facebook", data={
        "offer": sealed[:-4] + "AAAA", "pick": [f"facebook:{PAGE}"]})
    assert response.status_code == 303
    assert "expired or was already used" in flashes(signed_in)


def test_companies_stay_apart(fake, web_app, signed_in, herald, company):
    with herald.db.session() as session:
        other_company, _ = services.create_company(session, name="Other")
    theirs = add_account(herald, other_company.id, "facebook", PAGE)
    other_member = add_member(herald, other_company.id, "bob@example.com")
    mine, _ = pick_form(connect(signed_in, "facebook"))
    with TestClient(web_app, follow_redirects=False) as other_client:
        other = sign_in(other_client, other_member.email)
        # Bob's own pick list says nothing of Ada's company, and his page is his.
        _, boxes = pick_form(connect(other, "facebook"))
        assert boxes[f"facebook:{PAGE}"] is True
        # Ada's sealed offer is no good in Bob's session.
        response = other.post("/accounts/connect/facebook", data={
            "offer": mine, "pick": [f"facebook:{PAGE}", f"instagram:{IG}"]})
        assert response.status_code == 303
        assert "expired or was already used" in flashes(other)
        assert list(accounts(herald, other_company.id)) == [PAGE]
    # Ada connects the same Page: her company gets an account of its own.
    response = signed_in.post("/accounts/connect/facebook", data={
        "offer": mine, "pick": [f"facebook:{PAGE}"]})
    assert response.status_code == 303
    [(ours, _)] = accounts(herald, company[0]).values()
    assert ours.id != theirs and ours.company_id == company[0]
    [(bobs, token)] = accounts(herald, other_company.id).values()
    assert (bobs.id, token_of(herald, token)) == (theirs, f"secret-token-{PAGE}")


def test_connect_without_the_app_configured_says_what_to_set(web, signed_in, herald):
    response = signed_in.get("/accounts/connect/facebook")
    assert (response.status_code, response.headers["location"]) == (303, "/accounts")
    assert "set HERALD_FACEBOOK_APP_ID and HERALD_FACEBOOK_APP_SECRET" in flashes(signed_in)
    assert signed_in.get("/accounts/connect/twitter").status_code == 404
    response = signed_in.post("/accounts/connect/linkedin", data={"offer": "x"})
    assert response.status_code == 303
    assert "HERALD_LINKEDIN_CLIENT_ID" in flashes(signed_in)


def test_signed_out_the_callback_asks_to_sign_in(fake, web):
    response = web.get("/accounts/connect/facebook/callback?code=x&state=y")
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")


# --- LinkedIn --------------------------------------------------------------------------------


def test_linkedin_adds_the_member_and_organizations_with_refresh_tokens(
        fake, signed_in, herald, company):
    dialog = start(signed_in, "linkedin")
    assert dialog.startswith(f"{fake.linkedin_url}/oauth/v2/authorization?")
    asked = query_of(dialog)
    assert (asked["client_id"], asked["scope"], asked["response_type"]) == (
        CLIENT_ID, LI_SCOPES, "code")
    page = signed_in.get(consent(dialog))
    assert page.status_code == 200, page.text
    assert "Lin Kedin" in page.text and "Herald Inc" in page.text
    assert "Numbers Co" not in page.text
    assert "1 organization where your role cannot post" in page.text
    sealed, boxes = pick_form(page.text)
    assert list(boxes) == [f"linkedin:{MEMBER}", f"linkedin:{ORG}"]
    before = utcnow()
    response = signed_in.post("/accounts/connect/linkedin", data={
        "offer": sealed, "pick": list(boxes)})
    assert response.status_code == 303
    assert "Connected LinkedIn Lin Kedin, LinkedIn Herald Inc." in flashes(signed_in)

    saved = accounts(herald, company[0])
    assert {k: (a.platform, a.name) for k, (a, _) in saved.items()} == {
        MEMBER: ("linkedin", "Lin Kedin"), ORG: ("linkedin", "Herald Inc")}
    for _, token in saved.values():
        assert token.refresh_token_enc is not None
        assert token.expires_at is not None and token.refresh_expires_at is not None
        assert timedelta(days=59) < token.expires_at - before < timedelta(days=61)
        assert timedelta(days=364) < token.refresh_expires_at - before < timedelta(days=366)

    # The refresh token works the way herald/tokens.py uses it.
    refresh = herald.cipher.decrypt(saved[MEMBER][1].refresh_token_enc or "")

    async def refreshed() -> str:
        async with httpx.AsyncClient() as client:
            tokens = await refresh_access_token(
                client, token_url=herald.settings.linkedin_token_url, client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET, refresh_token=refresh)
        return tokens.access_token

    assert asyncio.run(refreshed()) != token_of(herald, saved[MEMBER][1])

    assert publish(herald, company[0],
                   dict(account_id=saved[MEMBER][0].id, post_type="text", caption="As me"),
                   dict(account_id=saved[ORG][0].id, post_type="text", caption="As Inc")
                   ) == ["published", "published"]
    assert sorted(r.account for r in fake.state.published()) == sorted([MEMBER, ORG])


def test_linkedin_without_refresh_tokens_or_organization_rights_says_so(
        fake, signed_in, herald, company):
    fake.state.add_oauth_app("linkedin", CLIENT_ID, CLIENT_SECRET, [CALLBACK.format("linkedin")],
                             refresh_tokens=False)
    fake.state.add_linkedin_user("Solo1", "Solo Member")
    fake.state.log_in("linkedin", "Solo1")
    page = connect(signed_in, "linkedin")
    assert "LinkedIn gave this app no refresh token" in page
    sealed, boxes = pick_form(page)
    assert list(boxes) == ["linkedin:urn:li:person:Solo1"]
    assert signed_in.post("/accounts/connect/linkedin", data={
        "offer": sealed, "pick": list(boxes)}).status_code == 303
    [(_, token)] = accounts(herald, company[0]).values()
    assert token.refresh_token_enc is None and token.expires_at is not None


def test_linkedin_refusing_the_code_is_explained(fake, signed_in, herald, company):
    first = consent(start(signed_in, "linkedin"))
    assert signed_in.get(first).status_code == 200
    second = consent(start(signed_in, "linkedin"))
    reused = f"{second.split('?')[0]}?code={query_of(first)['code']}" \
             f"&state={query_of(second)['state']}"
    response = signed_in.get(reused)
    assert response.status_code == 303
    assert "LinkedIn refused the sign-in: Unable to retrieve access token" in flashes(signed_in)

    herald.settings.linkedin_client_secret = SecretStr("not-the-secret")
    response = signed_in.get(consent(start(signed_in, "linkedin")))
    assert response.status_code == 303
    shown = flashes(signed_in)
    assert "LinkedIn refused the sign-in: Client authentication failed." in shown
    assert "check HERALD_LINKEDIN_CLIENT_ID and HERALD_LINKEDIN_CLIENT_SECRET" in shown
    assert accounts(herald, company[0]) == {}


def test_linkedin_reconnect_keeps_one_account_per_urn(fake, signed_in, herald, company):
    add_account(herald, company[0], "linkedin", ORG)
    sealed, boxes = pick_form(connect(signed_in, "linkedin"))
    assert boxes == {f"linkedin:{MEMBER}": False, f"linkedin:{ORG}": True}
    signed_in.post("/accounts/connect/linkedin", data={"offer": sealed, "pick": list(boxes)})
    saved = accounts(herald, company[0])
    assert set(saved) == {MEMBER, ORG}
    assert saved[ORG][1].refresh_token_enc is not None
    shown = flashes(signed_in)
    assert "Connected LinkedIn Lin Kedin." in shown
    assert "Reconnected LinkedIn Herald Inc with a new token." in shown


def test_the_accounts_page_names_the_redirect_uris_to_register(fake, signed_in):
    page = signed_in.get("/accounts").text
    assert "Connect Facebook Pages and Instagram" in page and "Connect LinkedIn" in page
    assert CALLBACK.format("facebook") in page and CALLBACK.format("linkedin") in page


def test_the_redirect_uri_follows_the_request_when_no_public_url_is_set(fake, herald, member):
    herald.settings.public_url = "http://127.0.0.1:8000"
    herald.settings.model_fields_set.discard("public_url")
    with TestClient(build_app(herald), base_url="http://herald.internal",
                    follow_redirects=False) as client:
        browser = sign_in(client, member.email)
        dialog = start(browser, "linkedin")
    assert query_of(dialog)["redirect_uri"] == (
        "http://herald.internal/accounts/connect/linkedin/callback")
