"""FakeState: everything the fake platforms remember, behind one lock.

Tests often serve the fake from uvicorn in a background thread while they read state from
their own thread, so every read and write goes through ``self.lock``. Handlers never await
while holding it: the lock guards short dictionary work, never I/O or sleeps.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from herald.platforms.facebook.fake.models import FbPhoto, FbPost, FbStory, FbUser, FbVideo
from herald.platforms.fake.faults import FaultPlan, FaultRule
from herald.platforms.fake.models import (
    FACEBOOK,
    INSTAGRAM,
    INSTAGRAM_LOGIN,
    LINKEDIN,
    TOKEN_API,
    Account,
    AuthCode,
    CommitCall,
    OAuthApp,
    PublishedRecord,
    Token,
)
from herald.platforms.instagram.fake.models import Container, IgMedia
from herald.platforms.linkedin.fake.models import LiAsset, LiMember, LiPost, LiRole

GraphNode = Container | IgMedia | FbPost | FbPhoto | FbVideo | FbStory

#: LinkedIn keeps each monthly version about a year. A fixed list rather than one computed
#: from today's date keeps test runs reproducible; configure `li_active_versions` to move it.
DEFAULT_LINKEDIN_VERSIONS = frozenset(["202512", *(f"2026{m:02d}" for m in range(1, 12))])

#: Revoke reasons for Graph tokens (190 subcodes) by name, for the admin API.
GRAPH_REVOKE_SUBCODES = {
    "app_removed": 458,
    "checkpoint": 459,
    "password_changed": 460,
    "unconfirmed_user": 464,
    "invalid": 467,
    "no_role": 492,
}

_LINKEDIN_PREFIXES = ("urn:li:person:", "urn:li:organization:")
_PERSON, _ORGANIZATION = _LINKEDIN_PREFIXES


@dataclass
class FakeConfig:
    """Tunable behaviour; change it with FakeState.configure() or PUT /_fake/config."""

    #: Seconds every API call waits before it is handled.
    latency: float = 0.0
    #: Fetch image_url/video_url/url like Meta does and check what comes back.
    fetch_media: bool = True
    fetch_timeout: float = 5.0
    ig_quota_total: int = 50
    #: Status reads answering IN_PROGRESS before FINISHED, for image and video containers.
    ig_image_polls: int = 0
    ig_video_polls: int = 1
    #: When set, video containers finish after this many seconds of the fake clock instead.
    ig_video_seconds: float | None = None
    fb_video_polls: int = 1
    li_video_polls: int = 1
    #: Posts one LinkedIn author may create per UTC day.
    li_daily_limit: int = 150
    li_active_versions: frozenset[str] = DEFAULT_LINKEDIN_VERSIONS
    #: Percent shown in X-App-Usage on every Graph response.
    app_usage_percent: int = 0
    #: OAuth dialogs answer at once as if the user clicked Allow (as ?auto=1 does).
    oauth_auto_approve: bool = False
    #: LinkedIn refresh responses leave out refresh_token (and its expiry), as some do.
    li_refresh_omits_token: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["li_active_versions"] = sorted(self.li_active_versions)
        return data


@dataclass
class _Stores:
    """Per-platform entities; rebuilt whole by reset()."""

    accounts: dict[str, Account] = field(default_factory=dict)
    graph_tokens: dict[str, Token] = field(default_factory=dict)
    linkedin_tokens: dict[str, Token] = field(default_factory=dict)
    nodes: dict[str, GraphNode] = field(default_factory=dict)
    ig_publishes: dict[str, list[float]] = field(default_factory=dict)
    ig_media: dict[str, list[str]] = field(default_factory=dict)
    fb_posts: dict[str, list[str]] = field(default_factory=dict)
    fb_last_post: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    li_posts: dict[str, LiPost] = field(default_factory=dict)
    li_by_author: dict[str, list[str]] = field(default_factory=dict)
    li_first_post: dict[tuple[str, str], str] = field(default_factory=dict)
    li_assets: dict[str, LiAsset] = field(default_factory=dict)
    #: Recent small uploaded images, kept so the sandbox page can show them.
    li_image_bytes: OrderedDict[str, tuple[bytes, str]] = field(default_factory=OrderedDict)
    records: list[PublishedRecord] = field(default_factory=list)
    commits: list[CommitCall] = field(default_factory=list)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    #: Successful media checks by URL, so benchmarks don't refetch one image thousands of times.
    media_checks: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: OAuth: apps by (platform, client_id), the users who consent, who is "logged in" to
    #: each platform's dialog, codes, LinkedIn refresh tokens, and the Page token derived
    #: from each (user token, Page) so /me/accounts answers the same token every time.
    oauth_apps: dict[tuple[str, str], OAuthApp] = field(default_factory=dict)
    fb_users: dict[str, FbUser] = field(default_factory=dict)
    li_members: dict[str, LiMember] = field(default_factory=dict)
    logged_in: dict[str, str] = field(default_factory=dict)
    oauth_codes: dict[str, AuthCode] = field(default_factory=dict)
    li_refresh_tokens: dict[str, Token] = field(default_factory=dict)
    page_tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Tokens of APIs with a namespace of their own (graph.instagram.com's), by TOKEN_API.
    api_tokens: dict[str, dict[str, Token]] = field(default_factory=dict)
    #: Stores of platforms that keep their objects in their own folder (by platform name),
    #: such as Bluesky's repositories (herald/platforms/bluesky/fake/store.py).
    platforms: dict[str, Any] = field(default_factory=dict)


class FakeState:
    """In-memory state of the fake Graph and LinkedIn APIs, with a Python API for tests."""

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        config: FakeConfig | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self._seed = seed
        self._clock = clock
        self._initial_config = config or FakeConfig()
        self._init()

    def _init(self) -> None:
        self._offset = 0.0
        self._counter = 0
        self.config = FakeConfig(**{
            f.name: getattr(self._initial_config, f.name) for f in fields(FakeConfig)
        })
        self.faults = FaultPlan(self._seed)
        self.data = _Stores()

    def reset(self) -> None:
        """Forget everything: accounts, posts, faults, config changes and clock offset."""
        with self.lock:
            self._init()

    # --- clock and ids ------------------------------------------------------------------

    def now(self) -> float:
        """The fake's clock (Unix seconds): the real clock plus any advance()."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward, e.g. past a container's 24 h expiry."""
        with self.lock:
            self._offset += seconds

    def next_number(self) -> int:
        with self.lock:
            self._counter += 1
            return self._counter

    # --- configuration ------------------------------------------------------------------

    def configure(self, **changes: Any) -> FakeConfig:
        """Change config fields by name, e.g. configure(latency=1.2, fetch_media=False)."""
        known = {f.name for f in fields(FakeConfig)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        with self.lock:
            for name, value in changes.items():
                if name == "li_active_versions":
                    value = frozenset(str(v) for v in value)
                setattr(self.config, name, value)
            return self.config

    def seed(self, seed: int) -> None:
        """Reseed the fault dice."""
        with self.lock:
            self._seed = seed
            self.faults.seed(seed)

    def add_fault(self, kind: str, **options: Any) -> FaultRule:
        """Inject a fault; see faults.py for kinds, endpoints and options."""
        rule = FaultRule(kind=kind, **options)
        with self.lock:
            return self.faults.add(rule)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def fault_rules(self) -> list[FaultRule]:
        with self.lock:
            return list(self.faults.rules)

    def pick_fault(self, platform: str, endpoint: str) -> FaultRule | None:
        with self.lock:
            return self.faults.pick(platform, endpoint)

    # --- accounts and tokens ------------------------------------------------------------

    def add_instagram_account(
        self,
        ig_user_id: str,
        token: str,
        *,
        username: str | None = None,
        name: str | None = None,
        page_id: str | None = None,
        quota_total: int | None = None,
        token_expires_in: float | None = None,
    ) -> Account:
        """Register an Instagram professional account reachable with `token`."""
        account = Account(
            platform=INSTAGRAM,
            id=ig_user_id,
            name=name or f"Instagram {ig_user_id}",
            username=username or f"fake_{ig_user_id[-6:]}",
            page_id=page_id,
            quota_total=quota_total,
        )
        return self._add(account, token, token_expires_in)

    def add_facebook_page(
        self,
        page_id: str,
        token: str,
        *,
        name: str | None = None,
        token_expires_in: float | None = None,
    ) -> Account:
        """Register a Facebook Page reachable with `token` (a Page token)."""
        account = Account(platform=FACEBOOK, id=page_id, name=name or f"Page {page_id}")
        return self._add(account, token, token_expires_in)

    def add_linkedin_member(
        self, urn: str, token: str, *, name: str | None = None,
        token_expires_in: float | None = None,
    ) -> Account:
        """Register a LinkedIn member (urn:li:person:…) the token may post as."""
        if not urn.startswith("urn:li:person:"):
            raise ValueError(f"a LinkedIn member URN starts with urn:li:person:, not {urn!r}")
        return self._add(Account(LINKEDIN, urn, name or urn), token, token_expires_in)

    def add_linkedin_organization(
        self, urn: str, token: str, *, name: str | None = None,
        token_expires_in: float | None = None,
    ) -> Account:
        """Register a LinkedIn organization (urn:li:organization:…) the token may post as."""
        if not urn.startswith("urn:li:organization:"):
            raise ValueError(f"an organization URN starts with urn:li:organization:, not {urn!r}")
        return self._add(Account(LINKEDIN, urn, name or urn), token, token_expires_in)

    def add_account(self, platform: str, account_id: str, token: str, **options: Any) -> Account:
        """Generic form of the add_* methods, used by the admin API."""
        if platform == INSTAGRAM:
            return self.add_instagram_account(account_id, token, **options)
        if platform == FACEBOOK:
            return self.add_facebook_page(account_id, token, **options)
        if platform == LINKEDIN:
            if account_id.startswith("urn:li:organization:"):
                return self.add_linkedin_organization(account_id, token, **options)
            return self.add_linkedin_member(account_id, token, **options)
        from herald.platforms.registry import find

        spec = find(platform)
        if spec is None or spec.fake is None or spec.fake.add_account is None:
            raise ValueError(f"unknown platform {platform!r}")
        spec.fake.add_account(self, account_id, token, dict(options))
        account = Account(platform, account_id, str(options.get("name") or account_id))
        with self.lock:
            # Keep the account the platform's own add_account registered (with its username).
            return self.data.accounts.setdefault(account.id, account)

    def _add(self, account: Account, token: str | None, expires_in: float | None) -> Account:
        api = TOKEN_API[account.platform]
        with self.lock:
            if token is not None:
                tokens = self._tokens(api)
                record = tokens.get(token)
                if record is None:
                    record = tokens[token] = Token(value=token, api=api)
                record.accounts.add(account.id)
                if expires_in is not None:
                    record.expires_at = self.now() + expires_in
            self.data.accounts[account.id] = account
            return account

    def _tokens(self, api: str) -> dict[str, Token]:
        if api == "graph":
            return self.data.graph_tokens
        if api == LINKEDIN:
            return self.data.linkedin_tokens
        return self.data.api_tokens.setdefault(api, {})

    def account(self, account_id: str) -> Account | None:
        with self.lock:
            return self.data.accounts.get(account_id)

    def accounts(self) -> list[Account]:
        with self.lock:
            return list(self.data.accounts.values())

    def token(self, api: str, value: str) -> Token | None:
        with self.lock:
            return self._tokens(api).get(value)

    def expire_token(self, token: str) -> None:
        """Make `token` expired (Graph 190/463, LinkedIn 401 65602)."""
        with self.lock:
            for record in self._find_tokens(token):
                record.expires_at = self.now() - 1

    def revoke_token(self, token: str, *, subcode: int = 460) -> None:
        """Revoke `token`: Graph 190 with `subcode` (default 460, password changed),
        LinkedIn 401 65601."""
        with self.lock:
            for record in self._find_tokens(token):
                record.revoked_subcode = subcode

    def store_token(self, token: Token) -> Token:
        """Register a token the OAuth flows issued (LinkedIn refresh tokens apart)."""
        with self.lock:
            if token.kind == "refresh":
                self.data.li_refresh_tokens[token.value] = token
            else:
                self._tokens(token.api)[token.value] = token
            return token

    def _find_tokens(self, token: str) -> list[Token]:
        data = self.data
        found = [t for t in (data.graph_tokens.get(token), data.linkedin_tokens.get(token),
                             data.li_refresh_tokens.get(token),
                             *(api.get(token) for api in data.api_tokens.values()))
                 if t is not None]
        if not found:
            raise KeyError(f"unknown token {token[:6]}…")
        return found

    def set_usage(self, account_id: str, percent: int, *, regain_minutes: int = 0) -> None:
        """Set an account's business-use-case usage; at 100 % its calls are throttled."""
        with self.lock:
            account = self.data.accounts[account_id]
            account.usage_percent = percent
            account.regain_minutes = regain_minutes

    # --- OAuth: apps and the users who consent -------------------------------------------

    def add_oauth_app(
        self, platform: str, client_id: str, client_secret: str, redirect_uris: Iterable[str],
        *, name: str | None = None, refresh_tokens: bool = True,
    ) -> OAuthApp:
        """Register a developer app: Facebook Login's (also for Instagram) or LinkedIn's
        (`refresh_tokens=False`: an app without programmatic refresh tokens)."""
        if platform == INSTAGRAM:
            raise ValueError("Instagram accounts connect through Facebook Login: "
                             f"register a {FACEBOOK!r} app (or an {INSTAGRAM_LOGIN!r} one "
                             "for Instagram Login)")
        from herald.platforms.registry import connectable

        if platform not in (FACEBOOK, LINKEDIN, INSTAGRAM_LOGIN,
                            *(s.name for s in connectable())):
            raise ValueError(f"unknown platform {platform!r}")
        uris = tuple(redirect_uris)
        if not uris:
            raise ValueError("an app needs at least one redirect URI")
        app = OAuthApp(platform, client_id, client_secret, uris, name or f"App {client_id}",
                       refresh_tokens)
        with self.lock:
            self.data.oauth_apps[(platform, client_id)] = app
        return app

    def oauth_app(self, platform: str, client_id: str) -> OAuthApp | None:
        with self.lock:
            return self.data.oauth_apps.get((platform, client_id))

    def add_facebook_user(
        self, user_id: str, name: str, pages: Iterable[tuple[str, str, str | None]] = (),
    ) -> FbUser:
        """A Facebook user who can log in through the fake dialog, with the Pages they
        manage as (page_id, page_name, linked Instagram user id or None).

        The first user added is the one "logged in" to the dialog; see log_in().
        """
        with self.lock:
            user = FbUser(user_id, name)
            for page_id, page_name, ig_user_id in pages:
                self._ensure(Account(FACEBOOK, page_id, page_name))
                if ig_user_id:
                    self._ensure(Account(INSTAGRAM, ig_user_id, f"{page_name} on Instagram",
                                         username=f"fake_{ig_user_id[-6:]}", page_id=page_id))
                user.page_ids.append(page_id)
            self.data.fb_users[user_id] = user
            self.data.logged_in.setdefault(FACEBOOK, user_id)
            return user

    def add_linkedin_user(
        self, member_id: str, name: str, *, email: str | None = None,
        organizations: Iterable[tuple[str, str] | tuple[str, str, str]] = (),
    ) -> LiMember:
        """A LinkedIn member who can authorize apps (`member_id` is the OpenID `sub`, or the
        urn:li:person URN), with organizations as (id or URN, name[, role]); the role is
        ADMINISTRATOR unless given. The first member added is the one "logged in"."""
        member_id = member_id.removeprefix(_PERSON)
        member = LiMember(member_id, name, email)
        with self.lock:
            self._ensure(Account(LINKEDIN, member.urn, name))
            for org, org_name, *role in organizations:
                urn = org if org.startswith(_ORGANIZATION) else f"{_ORGANIZATION}{org}"
                self._ensure(Account(LINKEDIN, urn, org_name))
                member.roles.append(LiRole(urn, *role))
            self.data.li_members[member_id] = member
            self.data.logged_in.setdefault(LINKEDIN, member_id)
            return member

    def _ensure(self, account: Account) -> None:
        # Keep an account registered earlier (it may carry usage or a quota of its own).
        self.data.accounts.setdefault(account.id, account)

    def facebook_user(self, user_id: str) -> FbUser | None:
        with self.lock:
            return self.data.fb_users.get(user_id)

    def linkedin_user(self, member_id: str) -> LiMember | None:
        with self.lock:
            return self.data.li_members.get(member_id.removeprefix(_PERSON))

    def log_in(self, platform: str, user_id: str) -> None:
        """Choose who consents in `platform`'s OAuth dialog (the user "logged in" there)."""
        with self.lock:
            users: set[str] = set(self.data.fb_users if platform == FACEBOOK
                                  else self.data.li_members if platform == LINKEDIN else ())
            if platform == INSTAGRAM_LOGIN:  # its people are the accounts themselves
                users = {a.id for a in self.data.accounts.values() if a.platform == platform}
            user_id = user_id.removeprefix(_PERSON)
            if user_id not in users:
                raise KeyError(f"no {platform} user {user_id!r}")
            self.data.logged_in[platform] = user_id

    def logged_in(self, platform: str) -> str | None:
        with self.lock:
            return self.data.logged_in.get(platform)

    # --- test media hosting -------------------------------------------------------------

    def add_file(self, name: str, content: bytes, content_type: str) -> None:
        """Serve `content` at GET {fake}/_fake/files/{name}, e.g. as an image_url."""
        with self.lock:
            self.data.files[name] = (content, content_type)

    def file(self, name: str) -> tuple[bytes, str] | None:
        with self.lock:
            return self.data.files.get(name)

    # --- what went out ------------------------------------------------------------------

    def record_published(self, record: PublishedRecord) -> None:
        with self.lock:
            self.data.records.append(record)

    def log_commit(self, call: CommitCall) -> None:
        with self.lock:
            self.data.commits.append(call)

    def published(
        self, *, platform: str | None = None, account: str | None = None
    ) -> list[PublishedRecord]:
        """Everything published, oldest first, including posts whose response was dropped."""
        with self.lock:
            records = list(self.data.records)
        return [r for r in records
                if (platform is None or r.platform == platform)
                and (account is None or r.account == account)]

    def commits(
        self, *, platform: str | None = None, account: str | None = None
    ) -> list[CommitCall]:
        """Every commit call (applied, dropped, refused or faulted), oldest first."""
        with self.lock:
            calls = list(self.data.commits)
        return [c for c in calls
                if (platform is None or c.platform == platform)
                and (account is None or c.account == account)]
