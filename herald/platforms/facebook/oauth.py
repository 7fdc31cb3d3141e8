"""Facebook Login for Pages and their Instagram professional accounts.

code → short-lived user token (about an hour) → long-lived user token (about 60 days) →
GET me/accounts, which answers each Page's own token. Page tokens derived from a long-lived
user token do not expire ◐ [FB-TOK], and the same Page token publishes to the Instagram
account linked to the Page, so both accounts store it with no expiry and no refresh token:
when Meta revokes one (password change, role lost), the account is marked needs_reauth and
the person connects again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from herald.config import Settings
from herald.connect.base import (
    Candidate,
    ConnectError,
    Flow,
    Offer,
    body_of,
    scrub,
    unreachable,
)
from herald.platforms.instagram import NAME as INSTAGRAM

SCOPES = ("pages_show_list", "pages_read_engagement", "pages_manage_posts", "instagram_basic",
          "instagram_content_publish", "business_management")
PAGE_FIELDS = "id,name,access_token,tasks,instagram_business_account{id,username,name}"
#: me/accounts pages at most 100 at a time; ten pages is more Pages than anyone manages.
MAX_PAGES = 10
#: The Page task that allows publishing ◐; without it /feed answers a permission error.
POSTING_TASK = "CREATE_CONTENT"


@dataclass(frozen=True)
class FacebookApp:
    """A Facebook app (HERALD_FACEBOOK_APP_ID/_SECRET) and where its endpoints are."""

    app_id: str
    app_secret: str = field(repr=False)
    graph_url: str = "https://graph.facebook.com/v25.0"
    dialog_url: str = "https://www.facebook.com/v25.0/dialog/oauth"

    @classmethod
    def from_settings(cls, settings: Settings) -> FacebookApp | None:
        secret = settings.facebook_app_secret
        if not settings.facebook_app_id or secret is None:
            return None
        version = settings.graph_api_version
        return cls(settings.facebook_app_id, secret.get_secret_value(),
                   f"{settings.graph_api_url}/{version}",
                   f"{settings.facebook_dialog_url}/{version}/dialog/oauth")


def flow(settings: Settings) -> Flow | None:
    """Facebook Login bound to the configured app; None when it is not set up."""
    app = FacebookApp.from_settings(settings)
    if app is None:
        return None
    return Flow(
        "facebook", "Facebook Pages and Instagram", "Facebook Login",
        lambda uri, state: authorization_url(app, redirect_uri=uri, state=state),
        callback_problem,
        lambda client, code, uri: fetch_offer(client, app, code=code, redirect_uri=uri),
        token_note="Page tokens from Facebook Login do not expire; if Facebook revokes one (a "
                   "password change, a role removed), the account is marked and you connect "
                   "again.")


def authorization_url(app: FacebookApp, *, redirect_uri: str, state: str) -> str:
    return app.dialog_url + "?" + urlencode({
        "client_id": app.app_id, "redirect_uri": redirect_uri, "state": state,
        "response_type": "code", "scope": ",".join(SCOPES)})


def callback_problem(params: dict[str, str]) -> str | None:
    """What a redirect without a code says, in words; None when there is a code."""
    if params.get("code") and "error" not in params:
        return None
    # ✅ A "Cancel" in the dialog comes back as error=access_denied&error_reason=user_denied.
    if params.get("error_reason") == "user_denied" or params.get("error") == "access_denied":
        return "You cancelled Facebook Login, so nothing was connected."
    said = params.get("error_description") or params.get("error") or "no authorization code"
    return f"Facebook Login did not finish ({said}), so nothing was connected."


async def fetch_offer(client: httpx.AsyncClient, app: FacebookApp, *, code: str,
                      redirect_uri: str) -> Offer:
    """Redeem the code and list the Pages (and their Instagram accounts) it reaches."""
    short = await _token(client, app, "the sign-in", {
        "client_id": app.app_id, "client_secret": app.app_secret,
        "redirect_uri": redirect_uri, "code": code}, code)
    # The exchange is what makes the Page tokens long-lived: from a short-lived user token
    # they would die within the hour.
    long = await _token(client, app, "a long-lived token", {
        "grant_type": "fb_exchange_token", "client_id": app.app_id,
        "client_secret": app.app_secret, "fb_exchange_token": short}, short)
    pages = await _pages(client, app, long)
    return _offer(pages)


async def _token(client: httpx.AsyncClient, app: FacebookApp, what: str,
                 form: dict[str, str], secret: str) -> str:
    # POSTed as a form, never in the query: the app secret, the code and the user token
    # would otherwise be in every log and proxy that records URLs (httpx logs each one).
    # Graph reads a POST's form as it reads a GET's query ◐ (Socialite and Arctic POST it).
    body = await _call(client, app, f"{app.graph_url}/oauth/access_token", what,
                       form=form, secrets=(secret,))
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise ConnectError(f"Facebook answered no access token for {what}; nothing was "
                           "connected.")
    return token


async def _pages(client: httpx.AsyncClient, app: FacebookApp, token: str
                 ) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    # The token goes in a header: `paging.next` URLs then carry no token, and neither do logs.
    headers = {"Authorization": f"Bearer {token}"}
    url: str | None = f"{app.graph_url}/me/accounts"
    params: dict[str, str] | None = {"fields": PAGE_FIELDS, "limit": "100"}
    for _ in range(MAX_PAGES):
        if url is None:
            break
        body = await _call(client, app, url, "the list of your Pages", params=params,
                           headers=headers, secrets=(token,))
        pages += [p for p in body.get("data", []) if isinstance(p, dict)]
        paging = body.get("paging")
        next_url = paging.get("next") if isinstance(paging, dict) else None
        url, params = (next_url if isinstance(next_url, str) else None), None
    return pages


async def _call(client: httpx.AsyncClient, app: FacebookApp, url: str, what: str, *,
                params: dict[str, str] | None = None, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None,
                secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    """A GET (a POST when there is a form) whose answer is a Graph object or its error."""
    try:
        if form is not None:
            response = await client.post(url, data=form, headers=headers)
        else:
            response = await client.get(url, params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise unreachable("Facebook", exc) from exc
    body = body_of(response)
    error = body.get("error")
    if isinstance(error, dict) or response.status_code >= 400:
        raise ConnectError(scrub(_refusal(what, error, response.status_code),
                                 app.app_secret, *secrets))
    return body


def _refusal(what: str, error: object, status: int) -> str:
    # Graph's envelope: branch on code, show error_user_msg when Meta wrote one for people.
    if not isinstance(error, dict):
        return f"Facebook refused {what} (HTTP {status}); nothing was connected."
    message = str(error.get("error_user_msg") or error.get("message") or "no reason given")
    code = error.get("code")
    # ◐ A wrong app secret is code 1 (elsewhere "unknown error, retry"); a wrong app id 101.
    if code == 101 or (code == 1 and "secret" in message.lower()):
        return (f"Facebook refused {what}: {message} Nothing was connected. Check "
                "HERALD_FACEBOOK_APP_ID and HERALD_FACEBOOK_APP_SECRET.")
    if code == 190:
        hint = " The sign-in expired; connect again."
    elif code in (10, 200) or (isinstance(code, int) and 200 <= code < 300):
        hint = " A permission was not granted; connect again and allow every one asked for."
    else:
        hint = " Start again with the Connect button."
    return f"Facebook refused {what}: {message} Nothing was connected.{hint}"


def _offer(pages: list[dict[str, Any]]) -> Offer:
    candidates: list[Candidate] = []
    notes: list[str] = []

    def add(candidate: Candidate) -> None:
        # Meta lets one Instagram account be linked to a single Page, but never trust that.
        if all(c.key != candidate.key for c in candidates):
            candidates.append(candidate)

    for page in pages:
        page_id, name, token = page.get("id"), page.get("name"), page.get("access_token")
        if not (isinstance(page_id, str) and isinstance(token, str) and token):
            continue
        name = str(name or page_id)
        tasks = page.get("tasks")
        if isinstance(tasks, list) and POSTING_TASK not in tasks:
            notes.append(f"Your role on the Page {name} does not allow creating content, so "
                         "it is not offered.")
            continue
        ig = page.get("instagram_business_account")
        linked = isinstance(ig, dict) and isinstance(ig.get("id"), str)
        add(Candidate(
            platform="facebook", external_id=page_id, name=name, access_token=token,
            detail="Facebook Page",
            note="" if linked else "No Instagram professional account is linked to this "
                                   "Page, so there is no Instagram account to add for it."))
        if linked:
            assert isinstance(ig, dict)
            username = ig.get("username")
            add(Candidate(
                platform=INSTAGRAM, external_id=ig["id"],
                name=f"@{username}" if username else str(ig.get("name") or ig["id"]),
                access_token=token, detail=f"Instagram account linked to the Page {name}"))
    return Offer("facebook", tuple(candidates), tuple(notes))
