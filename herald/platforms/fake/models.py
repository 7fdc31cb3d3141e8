"""The fake platforms' objects: accounts, tokens, what was published, and per-API entities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from herald.platforms import facebook, instagram, linkedin

INSTAGRAM = instagram.NAME
FACEBOOK = facebook.NAME
LINKEDIN = linkedin.NAME

# The fake's objects below model these three APIs; a new platform's fake keeps its own.
PLATFORMS = (INSTAGRAM, FACEBOOK, LINKEDIN)

#: Which token namespace each platform uses: Instagram and Facebook share Graph tokens.
TOKEN_API = {INSTAGRAM: "graph", FACEBOOK: "graph", LINKEDIN: LINKEDIN}

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
        return "ig_user" if self.platform == INSTAGRAM else "page"


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
class FbUser:
    """A Facebook user who can log in through the fake dialog, and the Pages they manage."""

    id: str
    name: str
    page_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LiRole:
    """One organizationAcls row: a member's role on an organization."""

    organization: str  # urn:li:organization:…
    role: str = "ADMINISTRATOR"
    state: str = "APPROVED"


@dataclass
class LiMember:
    """A LinkedIn member who can authorize apps, with their organization roles."""

    id: str  # the OpenID Connect `sub`; the member URN is urn:li:person:{id}
    name: str
    email: str | None = None
    roles: list[LiRole] = field(default_factory=list)

    @property
    def urn(self) -> str:
        return f"urn:li:person:{self.id}"

    @property
    def given_name(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def family_name(self) -> str:
        return self.name.split(" ", 1)[1] if " " in self.name else ""


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


@dataclass
class Container:
    """An Instagram media container; its status is derived from age and polls."""

    node_kind: ClassVar[str] = "ig_container"

    id: str
    account_id: str
    media_type: str  # IMAGE, VIDEO, REELS, STORIES, CAROUSEL
    created_at: float
    caption: str = ""
    image_url: str | None = None
    video_url: str | None = None
    is_carousel_item: bool = False
    children: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    #: Status reads answered IN_PROGRESS before FINISHED (unless ready_seconds is set).
    ready_polls: int = 0
    ready_seconds: float | None = None
    polls: int = 0
    error_subcode: int | None = None
    media_id: str | None = None


@dataclass
class IgMedia:
    """A published Instagram media object."""

    node_kind: ClassVar[str] = "ig_media"

    id: str
    account_id: str
    container_id: str
    media_type: str  # IMAGE, VIDEO, CAROUSEL_ALBUM
    product_type: str  # FEED, REELS, STORY
    caption: str
    timestamp: float
    shortcode: str
    permalink: str
    media_url: str | None
    username: str | None


# --- Facebook --------------------------------------------------------------------------


@dataclass
class FbPost:
    """A Page post: text, link, photo(s) or video."""

    node_kind: ClassVar[str] = "fb_post"

    id: str  # "{page-id}_{post-id}"
    account_id: str
    message: str
    created_at: float
    link: str | None = None
    photo_ids: tuple[str, ...] = ()
    published: bool = True
    scheduled_for: float | None = None
    permalink: str | None = None

    def visible_at(self, now: float) -> bool:
        if self.published:
            return True
        return self.scheduled_for is not None and self.scheduled_for <= now


@dataclass
class FbPhoto:
    """A Page photo; unpublished ones wait to be attached to a feed post."""

    node_kind: ClassVar[str] = "fb_photo"

    id: str
    account_id: str
    url: str | None
    caption: str
    created_at: float
    published: bool
    post_id: str | None = None


@dataclass
class FbVideo:
    """A Page video, processed over a few status reads."""

    node_kind: ClassVar[str] = "fb_video"

    id: str
    account_id: str
    file_url: str | None
    description: str
    title: str
    created_at: float
    post_id: str
    ready_polls: int = 0
    polls: int = 0
    failed: bool = False


# --- LinkedIn --------------------------------------------------------------------------


@dataclass
class LiPost:
    """A LinkedIn post as created through /rest/posts."""

    urn: str
    author: str
    commentary: str
    body: dict[str, Any]
    created_at: float


@dataclass
class LiPart:
    first_byte: int
    last_byte: int
    etag: str | None = None


@dataclass
class LiAsset:
    """An uploaded (or awaited) LinkedIn image, video or document."""

    urn: str
    kind: str  # image | video | document
    owner: str
    created_at: float
    status: str = "WAITING_UPLOAD"  # → PROCESSING (videos) → AVAILABLE | PROCESSING_FAILED
    size: int = 0
    parts: list[LiPart] = field(default_factory=list)
    ready_polls: int = 0
    polls: int = 0
    fail_processing: bool = False

    @property
    def asset_id(self) -> str:
        return self.urn.rsplit(":", 1)[1]
