"""The fake's shared objects: accounts, tokens, OAuth apps and codes, what was published.

Each platform's own objects (containers, Page posts, LinkedIn assets…) live in its folder's
fake/models.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from herald.platforms import facebook, instagram, instagram_login, linkedin

INSTAGRAM = instagram.NAME
INSTAGRAM_LOGIN = instagram_login.NAME
FACEBOOK = facebook.NAME
LINKEDIN = linkedin.NAME
#: Instagram accounts on either API: graph.facebook.com's and graph.instagram.com's.
INSTAGRAMS = frozenset({INSTAGRAM, INSTAGRAM_LOGIN})

#: Which token namespace each platform uses: Instagram and Facebook share Graph tokens;
#: graph.instagram.com takes only its own (Instagram Login's).
TOKEN_API = {INSTAGRAM: "graph", FACEBOOK: "graph", LINKEDIN: LINKEDIN,
             INSTAGRAM_LOGIN: INSTAGRAM_LOGIN}

DAY = 86_400.0


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass
class Account:
    """An Instagram user, a Facebook Page, or a LinkedIn member/organization."""

    platform: str
    id: str
    name: str
    username: str | None = None
    #: Instagram: the Page the account is linked to; overrides the default quota.
    page_id: str | None = None
    quota_total: int | None = None
    #: Percent of the (business use case) budget used, shown in usage headers.
    usage_percent: int = 0
    regain_minutes: int = 0

    @property
    def account_id(self) -> str:
        return self.id

    @property
    def node_kind(self) -> str:
        return "ig_user" if self.platform in INSTAGRAMS else "page"


@dataclass
class Token:
    """An access token and the accounts it may act for."""

    value: str
    api: str  # "graph", or the platform's name for an API of its own
    accounts: set[str] = field(default_factory=set)
    expires_at: float | None = None
    #: Set once revoked: the Graph 190 subcode (LinkedIn answers 65601 whatever it is).
    revoked_subcode: int | None = None
    #: What the OAuth flows issued: "user" (a Facebook user token), "page" (a Page token
    #: derived from one), "member" (a LinkedIn access token) or "refresh" (a LinkedIn refresh
    #: token). None for tokens registered directly, which act like Page/member tokens.
    kind: str | None = None
    #: The Facebook user or LinkedIn member id the token stands for, and the app it went to.
    user_id: str | None = None
    client_id: str | None = None
    #: Granted scopes; None (tokens registered directly) means "everything".
    scope: frozenset[str] | None = None
    #: A long-lived Facebook user token (its Page tokens never expire).
    long_lived: bool = False

    def allows(self, *scopes: str) -> bool:
        """Whether the token was granted any of `scopes` (tokens without scopes allow all)."""
        return self.scope is None or not self.scope.isdisjoint(scopes)


# --- OAuth ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthApp:
    """A developer app: Facebook Login (also Instagram) or a LinkedIn app."""

    platform: str  # facebook | linkedin
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str
    #: LinkedIn: whether the app has programmatic refresh tokens (MDP partners do).
    refresh_tokens: bool = True


@dataclass
class AuthCode:
    """An authorization code handed to a redirect_uri; single use, short-lived."""

    value: str
    platform: str
    client_id: str
    redirect_uri: str
    user_id: str
    scope: frozenset[str]
    expires_at: float
    used: bool = False


@dataclass(frozen=True)
class PublishedRecord:
    """One post that went out (even if the client never heard back)."""

    platform: str
    account: str
    kind: str
    caption: str
    media_urls: tuple[str, ...]
    external_id: str
    permalink: str | None
    published_at: datetime
    #: The call was applied but its response was dropped by an injected fault.
    dropped: bool = False
    scheduled_for: datetime | None = None
    media_ids: tuple[str, ...] = ()
    #: The caption as the platform shows it, where that differs from what was sent
    #: (LinkedIn renders its Little Text Format escapes away).
    shown_caption: str | None = None

    def shown(self) -> str:
        """The caption a person reads on the platform."""
        return self.caption if self.shown_caption is None else self.shown_caption

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "account": self.account,
            "kind": self.kind,
            "caption": self.caption,
            "media_urls": list(self.media_urls),
            "media_ids": list(self.media_ids),
            "external_id": self.external_id,
            "permalink": self.permalink,
            "published_at": self.published_at.isoformat(),
            "scheduled_for": self.scheduled_for.isoformat() if self.scheduled_for else None,
            "dropped": self.dropped,
        }


@dataclass(frozen=True)
class CommitCall:
    """One call to a non-idempotent endpoint, whatever became of it.

    outcome: "ok" (applied and answered), "dropped" (applied, response lost), "error"
    (refused by the fake's validation) or "fault" (an injected failure, not applied).
    """

    platform: str
    account: str | None
    endpoint: str
    at: datetime
    outcome: str
    fault: str | None = None
    external_id: str | None = None
    caption: str | None = None
    error: str | None = None

    @property
    def applied(self) -> bool:
        return self.outcome in ("ok", "dropped")

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "account": self.account,
            "endpoint": self.endpoint,
            "at": self.at.isoformat(),
            "outcome": self.outcome,
            "fault": self.fault,
            "external_id": self.external_id,
            "caption": self.caption,
            "error": self.error,
        }


# --- Instagram -------------------------------------------------------------------------


# --- Facebook --------------------------------------------------------------------------


# --- LinkedIn --------------------------------------------------------------------------
