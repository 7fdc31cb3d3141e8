"""LinkedIn OAuth 2.0 (3-legged) for a member and the organizations they may post for.

code → access token (60 days) and, for apps LinkedIn grants them to, a refresh token
(365 days, not renewed by refreshing) [LI-TOK] → /v2/userinfo (the member: `sub`, `name`) →
/rest/organizationAcls?q=roleAssignee (the organizations and the member's role in each) →
/rest/organizations/{id} (their names). Every account found stores the same token pair:
it is the member's token, and it posts as each organization through the member's role.
herald/tokens.py refreshes each account's copy before it expires; LinkedIn answers the same
refresh token on refresh ❓ and earlier access tokens keep working until their own expiry,
so the copies never invalidate one another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
from herald.models import utcnow

SCOPES = ("openid", "profile", "w_member_social", "r_organization_admin",
          "w_organization_social")
#: Roles that may post as the organization ✅ [LI-POSTS].
POSTING_ROLES = frozenset({"ADMINISTRATOR", "CONTENT_ADMIN", "DIRECT_SPONSORED_CONTENT_POSTER"})
ACL_PAGE = 100
MAX_ACL_PAGES = 10
#: error values of a redirect where the person said no ◐.
CANCELLED = frozenset({"user_cancelled_authorize", "user_cancelled_login", "access_denied"})


@dataclass(frozen=True)
class LinkedInApp:
    """A LinkedIn app (HERALD_LINKEDIN_CLIENT_ID/_SECRET) and where its endpoints are."""

    client_id: str
    client_secret: str = field(repr=False)
    auth_url: str = "https://www.linkedin.com/oauth/v2/authorization"
    token_url: str = "https://www.linkedin.com/oauth/v2/accessToken"
    api_url: str = "https://api.linkedin.com"
    version: str = "202609"

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkedInApp | None:
        secret = settings.linkedin_client_secret
        if not settings.linkedin_client_id or secret is None:
            return None
        return cls(settings.linkedin_client_id, secret.get_secret_value(),
                   settings.linkedin_auth_url, settings.linkedin_token_url,
                   settings.linkedin_api_url, settings.linkedin_version)


def flow(settings: Settings) -> Flow | None:
    """LinkedIn's sign-in bound to the configured app; None when it is not set up."""
    app = LinkedInApp.from_settings(settings)
    if app is None:
        return None
    return Flow(
        "linkedin", "LinkedIn", "LinkedIn's sign-in",
        lambda uri, state: authorization_url(app, redirect_uri=uri, state=state),
        callback_problem,
        lambda client, code, uri: fetch_offer(client, app, code=code, redirect_uri=uri),
        token_note="LinkedIn tokens are refreshed before they expire when LinkedIn gives a "
                   "refresh token.")


def authorization_url(app: LinkedInApp, *, redirect_uri: str, state: str) -> str:
    # LinkedIn takes scopes separated by spaces (encoded as %20 or +).
    return app.auth_url + "?" + urlencode({
        "response_type": "code", "client_id": app.client_id, "redirect_uri": redirect_uri,
        "state": state, "scope": " ".join(SCOPES)})


def callback_problem(params: dict[str, str]) -> str | None:
    """What a redirect without a code says, in words; None when there is a code."""
    if params.get("code") and "error" not in params:
        return None
    if params.get("error") in CANCELLED:
        return "You cancelled LinkedIn's sign-in, so nothing was connected."
    said = params.get("error_description") or params.get("error") or "no authorization code"
    return f"LinkedIn's sign-in did not finish ({said}), so nothing was connected."


async def fetch_offer(client: httpx.AsyncClient, app: LinkedInApp, *, code: str,
                      redirect_uri: str, now: Callable[[], datetime] = utcnow) -> Offer:
    """Redeem the code; offer the member and the organizations the token may post for."""
    at = now()
    tokens = await _redeem(client, app, code, redirect_uri)
    access = str(tokens["access_token"])
    granted = _scopes(tokens.get("scope"))
    api = _Api(client, app, access)
    me = await api.get("/v2/userinfo", "your profile")
    sub = me.get("sub")
    if not isinstance(sub, str) or not sub:
        raise ConnectError("LinkedIn's profile answer named no member; nothing was connected.")

    def candidate(external_id: str, name: str, detail: str) -> Candidate:
        return Candidate(
            platform="linkedin", external_id=external_id, name=name, access_token=access,
            refresh_token=_text(tokens.get("refresh_token")),
            token_expires_at=_after(at, tokens.get("expires_in")),
            refresh_token_expires_at=_after(at, tokens.get("refresh_token_expires_in")),
            detail=detail)

    candidates: list[Candidate] = []
    notes: list[str] = []
    member_name = str(me.get("name") or sub)
    if "w_member_social" in granted:
        candidates.append(candidate(f"urn:li:person:{sub}", member_name,
                                    "Your LinkedIn profile"))
    else:
        notes.append("LinkedIn did not grant posting as you (w_member_social), so your "
                     "profile is not offered.")
    await _offer_organizations(api, granted, candidate, candidates, notes)
    if not tokens.get("refresh_token"):
        # Programmatic refresh tokens are granted per app; without one, no refresh.
        notes.append("LinkedIn gave this app no refresh token: the accounts need connecting "
                     "again when the token expires (in about 60 days).")
    return Offer("linkedin", tuple(candidates), tuple(notes))


async def _redeem(client: httpx.AsyncClient, app: LinkedInApp, code: str,
                  redirect_uri: str) -> dict[str, Any]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": app.client_id, "client_secret": app.client_secret}
    try:
        response = await client.post(app.token_url, data=form)
    except httpx.HTTPError as exc:
        raise unreachable("LinkedIn", exc) from exc
    body = body_of(response)
    if response.status_code >= 400 or not _text(body.get("access_token")):
        # LinkedIn's OAuth errors are {"error", "error_description"}; every bad code (used,
        # expired, another redirect_uri) reads the same ◐.
        said = str(body.get("error_description") or body.get("error")
                   or f"HTTP {response.status_code}")
        fix = ("check HERALD_LINKEDIN_CLIENT_ID and HERALD_LINKEDIN_CLIENT_SECRET"
               if body.get("error") == "invalid_client" else
               "start again with the Connect button")
        raise ConnectError(scrub(f"LinkedIn refused the sign-in: {said}. Nothing was "
                                 f"connected; {fix}.", code, app.client_secret))
    return body


class _Api:
    """GETs on api.linkedin.com with the member's token and the headers /rest/ needs."""

    def __init__(self, client: httpx.AsyncClient, app: LinkedInApp, token: str) -> None:
        self.client, self.app, self.token = client, app, token
        self.headers = {"Authorization": f"Bearer {token}", "LinkedIn-Version": app.version,
                        "X-Restli-Protocol-Version": "2.0.0"}

    async def get(self, path: str, what: str, params: dict[str, str] | None = None
                  ) -> dict[str, Any]:
        try:
            response = await self.client.get(f"{self.app.api_url}{path}", params=params,
                                             headers=self.headers)
        except httpx.HTTPError as exc:
            raise unreachable("LinkedIn", exc) from exc
        body = body_of(response)
        if response.status_code >= 400:
            said = str(body.get("message") or f"HTTP {response.status_code}")
            raise ConnectError(scrub(f"LinkedIn refused to show {what}: {said}. Nothing was "
                                     "connected.", self.token, self.app.client_secret))
        return body


async def _offer_organizations(api: _Api, granted: frozenset[str],
                               candidate: Callable[[str, str, str], Candidate],
                               candidates: list[Candidate], notes: list[str]) -> None:
    """Add the organizations the member may post for, or say why there are none."""
    if "r_organization_admin" not in granted:
        notes.append("LinkedIn did not grant reading your organizations "
                     "(r_organization_admin), so none are offered.")
        return
    orgs, skipped = await _organizations(api)
    if orgs and "w_organization_social" not in granted:
        notes.append("LinkedIn did not grant posting for organizations "
                     "(w_organization_social), so none are offered.")
        orgs = []
    for org_id, role in orgs:
        name = await _organization_name(api, org_id)
        candidates.append(candidate(f"urn:li:organization:{org_id}", name,
                                    f"LinkedIn organization (you are {role.lower()})"))
    if skipped:
        notes.append(f"{skipped} organization{'s' if skipped > 1 else ''} where your role "
                     "cannot post (administrators, content admins and sponsored-content "
                     f"posters can) {'are' if skipped > 1 else 'is'} not offered.")


async def _organizations(api: _Api) -> tuple[list[tuple[str, str]], int]:
    """(organization id, role) the member may post for, and how many others were skipped."""
    found: dict[str, str] = {}
    others: set[str] = set()
    start = 0
    for _ in range(MAX_ACL_PAGES):
        body = await api.get("/rest/organizationAcls", "your organizations", {
            "q": "roleAssignee", "state": "APPROVED", "start": str(start),
            "count": str(ACL_PAGE)})
        elements = [e for e in body.get("elements", []) if isinstance(e, dict)]
        for element in elements:
            urn, role = element.get("organization"), element.get("role")
            if not isinstance(urn, str) or not urn.startswith("urn:li:organization:"):
                continue
            org_id = urn.removeprefix("urn:li:organization:")
            if role in POSTING_ROLES:
                found.setdefault(org_id, str(role))
            else:
                others.add(org_id)
        start += len(elements)
        paging = body.get("paging")
        total = paging.get("total") if isinstance(paging, dict) else None
        if not elements or not isinstance(total, int) or start >= total:
            break
    return list(found.items()), len(others - set(found))


async def _organization_name(api: _Api, org_id: str) -> str:
    try:
        body = await api.get(f"/rest/organizations/{org_id}", "an organization")
    except ConnectError:
        # The name is a nicety: the URN is what publishing needs.
        return f"Organization {org_id}"
    return str(body.get("localizedName") or f"Organization {org_id}")


def _scopes(raw: object) -> frozenset[str]:
    # ◐ LinkedIn answers scopes comma-separated; the RFC says spaces. Both are read.
    if not isinstance(raw, str):
        return frozenset(SCOPES)  # no scope in the answer: what was asked for
    return frozenset(raw.replace(",", " ").split())


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _after(at: datetime, seconds: object) -> datetime | None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        return None
    return at + timedelta(seconds=seconds)
