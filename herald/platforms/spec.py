"""PlatformSpec: everything the rest of Herald needs to know about one platform.

Each platform's folder builds one spec in its ``__init__.py``; herald.platforms.registry
lists them. Everything outside the folder (the API's enums, the compose page, the token
refresher, the sandbox, the connect pages, scheduling-time validation) asks the registry.

A spec is cheap to import: it names no heavy module. The publisher, the OAuth flow and the
fake are reached through factories that import their modules when called, so a
`herald worker` never loads FastAPI, Pillow or argon2 through a spec.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx
    from starlette.routing import BaseRoute

    from herald.config import Settings
    from herald.connect.base import Flow
    from herald.media.fetch import SafeFetcher
    from herald.platforms.base import Publisher
    from herald.platforms.fake.state import FakeState
    from herald.platforms.graph.fake import GraphHost, GraphRouter
    from herald.platforms.versions import ApiVersion
    from herald.validation import DraftPost


@dataclass(frozen=True)
class Endpoint:
    """Where a publisher sends its calls: the API's base URL and version."""

    base_url: str
    version: str
    #: Poll containers and uploads every fraction of a second: the sandbox and tests only.
    quick: bool = False
    #: Accounts' own servers (a PDS, an instance) may be private or plain http
    #: (HERALD_ALLOW_PRIVATE_SERVER_URLS).
    allow_private_servers: bool = False


class RefreshedToken(Protocol):
    """What a token refresh answers (a platform client's TokenSet)."""

    @property
    def access_token(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def refresh_token(self) -> str | None: ...
    @property
    def refresh_token_expires_at(self) -> datetime | None: ...


class RefreshFn(Protocol):
    """Exchanges a refresh token for a fresh access token at the platform."""

    def __call__(self, client: httpx.AsyncClient, *, token_url: str, client_id: str,
                 client_secret: str, refresh_token: str) -> Awaitable[RefreshedToken]: ...


@dataclass(frozen=True)
class TokenRefresh:
    """How a platform's access tokens are refreshed before they expire."""

    #: Imports the client lazily: tokens.py is imported by every worker.
    refresh: RefreshFn
    #: The settings an operator sets so Herald may refresh, named in the warning.
    settings_names: str
    #: The access token refreshes itself (Instagram Login's long-lived token): no refresh
    #: token and no app credentials; `refresh` gets the access token as `refresh_token`.
    self_refreshing: bool = False
    #: Where its refreshes go, from settings; None: the refresher's own (LinkedIn's).
    token_url: Callable[[Settings], str] | None = None


@dataclass(frozen=True)
class ConnectSpec:
    """A platform's OAuth connect flow (its oauth.py), as the Accounts pages offer it."""

    #: The settings that enable the flow, named when it is not set up.
    settings_names: str
    #: The flow bound to the configured app, or None when its app id/secret are unset.
    bind: Callable[[Settings], Flow | None]


@dataclass(frozen=True)
class FakeSpec:
    """A platform's part of the platform fake (herald.platforms.fake), built on demand."""

    #: Its routes by mount under the fake's root; a mount several platforms share (the
    #: Graph API's) gets each one's routes in registry order.
    mounts: Callable[[FakeState], Mapping[str, list[BaseRoute]]]
    #: Its object handlers on the shared Graph API fake, for platforms on the Graph API.
    graph: Callable[[], GraphRouter] | None = None
    #: A Graph API host of its own (graph.instagram.com): the host and its handlers, served
    #: by the same pipeline as graph.facebook.com's under the host's mount.
    graph_host: Callable[[], tuple[GraphHost, GraphRouter]] | None = None
    #: Registers a person who may sign in to its OAuth dialog, from the admin API's
    #: POST /_fake/oauth/users body (user id, name, the platform's own fields).
    add_user: Callable[[FakeState, str, str, dict[str, Any]], None] | None = None
    #: Registers an account the fake accepts (the sandbox's, the admin API's): its id, its
    #: token and options such as its name; for platforms outside the shared account store.
    add_account: Callable[[FakeState, str, str, dict[str, Any]], None] | None = None


@dataclass(frozen=True)
class TokenProbe:
    """What asking a platform about one account's token needs (`herald doctor`)."""

    client: httpx.AsyncClient
    endpoint: Endpoint
    settings: Settings
    external_id: str
    token: str
    #: The account's own server (a PDS), for platforms that have them.
    server_url: str | None = None


@dataclass(frozen=True)
class TokenStatus:
    """What the platform says of a token: valid, until when, and what it lacks."""

    valid: bool
    #: Why it is not valid, in the platform's words (never the token).
    problem: str = ""
    expires_at: datetime | None = None
    #: Permissions publishing needs that the token was not granted.
    missing: tuple[str, ...] = ()
    #: False when the platform told only whether it is valid (no app to ask with).
    scopes_checked: bool = True


#: Asks the platform about a token; raises httpx.HTTPError when it cannot be reached.
TokenCheck = Callable[[TokenProbe], Awaitable[TokenStatus]]


@dataclass(frozen=True)
class PreviewSpec:
    """How the platform shows a post in its feed: what the compose and review previews draw."""

    #: Characters shown before the platform folds the caption behind its "more" (None: all).
    fold: int | None = None
    #: Lines shown before the fold, when they run out before `fold` characters do.
    fold_lines: int | None = None
    #: What the fold's link says.
    more: str = "… more"
    #: Links in the caption are clickable there (Instagram's are plain text).
    links: bool = True
    #: The frame media is cropped to, as "width:height", per post type; else `frame`.
    frames: Mapping[str, str] = field(default_factory=dict)
    frame: str = "1:1"
    #: Lengths are counted in graphemes (user-perceived characters), not code points.
    graphemes: bool = False
    #: Media above the caption (Instagram), not below it.
    media_first: bool = False

    def frame_for(self, post_type: str) -> str:
        return self.frames.get(post_type, self.frame)


@dataclass(frozen=True)
class PlatformSpec:
    """One platform: its names, post types, rules, publisher, tokens, connect flow, fake."""

    name: str
    display_name: str
    #: The two-letter badge on calendar and lists ("IG").
    short_name: str
    #: Post types it publishes, in the order pickers show them.
    post_types: tuple[str, ...]
    #: Every reason the platform would refuse a post, checked when it is scheduled.
    rules: Callable[[DraftPost], list[str]]
    #: Builds its publisher on the shared client; media it downloads goes through the
    #: safe fetcher (users' URLs).
    publisher: Callable[[httpx.AsyncClient, Endpoint, SafeFetcher], Publisher]
    #: The real API's base URL and version from settings.
    endpoint: Callable[[Settings], Endpoint]
    #: A sandbox account's external id, from ten random digits.
    sandbox_id: Callable[[str], str]
    #: Where its fake is mounted in the sandbox (the publisher's base URL there).
    sandbox_mount: str
    #: Limits the compose page counts while typing: {"chars": 2200, "hashtags": 30}.
    compose_limits: Mapping[str, int] = field(default_factory=dict)
    #: How its feed shows a post (the fold, links, media frames), for the previews.
    preview: PreviewSpec = field(default_factory=PreviewSpec)
    #: A post type published as several posts, each tracked on its own.
    splits: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Whether its publisher can tell, after a crash mid-commit, if a post went out.
    reconciles: bool = False
    #: Permissions its publishing needs, named when the platform refuses one.
    permissions: str = ""
    refresh: TokenRefresh | None = None
    connect: ConnectSpec | None = None
    fake: FakeSpec | None = None
    #: Its publisher posts first comments (base.Commenter): herald.first_comment posts the
    #: post's `first_comment` right after it, as a second journaled step.
    first_comments: bool = False
    #: Which posts can take a first comment: (post type, account external id) -> the
    #: reason they cannot, or None. An Instagram story takes none; LinkedIn comments only
    #: as an organization.
    comment_refusal: Callable[[str, str], str | None] | None = None
    #: The options one part of a split post keeps (post type, options) -> options: a
    #: feed_story's story goes without Instagram's collaborators and tags. Parts are
    #: checked with what they keep; a post of that type alone is checked with all.
    part_options: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None
    #: Accounts live on a server of their own choosing (a PDS, an instance): the default
    #: server_url. None: the platform has one API and accounts take no server_url.
    server_url_default: str | None = None
    #: Checks an account's credentials when it is added (its server, external id, token),
    #: raising a PublishError when the platform refuses them.
    check_account: Callable[[httpx.AsyncClient, str, str, str], Awaitable[None]] | None = None
    #: A server's own compose limits ({"chars": 5000}), for platforms whose servers set
    #: their own (a Mastodon instance's), as known now: called before its accounts' posts
    #: are checked, it never waits on the server (checks run inside a transaction) but
    #: reads it in the background when its figures are missing or stale. Gets the
    #: account's server URL.
    server_limits: Callable[[str], Mapping[str, int]] | None = None
    #: The API version the settings pick and its sunset (herald.platforms.versions).
    api_version: Callable[[Settings], ApiVersion] | None = None
    #: Asks the platform whether an account's token is valid, when it expires and which
    #: permissions it lacks (`herald doctor`).
    check_token: TokenCheck | None = None
