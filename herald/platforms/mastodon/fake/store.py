"""What the fake instance remembers: accounts (by token), media attachments, statuses,
Idempotency-Keys and the instance's own limits. Kept in the fake's state under the
platform's name, so FakeState.reset() forgets it with everything else; every access holds
the state's lock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from herald.platforms.fake.state import FakeState
from herald.platforms.mastodon import NAME

#: Mastodon keeps an Idempotency-Key this long (PostStatusService: redis setex 3600).
IDEMPOTENCY_SECONDS = 3600.0


@dataclass
class MastoAccount:
    id: str
    username: str
    token: str = field(repr=False)
    display_name: str


@dataclass
class MastoMedia:
    id: str
    account_id: str
    data: bytes = field(repr=False)
    mime: str
    description: str
    #: GET /api/v1/media/:id answers 206 this many more times before 200.
    polls_left: int = 0
    status_id: str | None = None
    failed: bool = False


@dataclass
class MastoStatus:
    id: str
    account_id: str
    text: str
    spoiler_text: str
    visibility: str
    language: str | None
    sensitive: bool
    media_ids: list[str]
    in_reply_to_id: str | None
    created_at: float


@dataclass
class Limits:
    """What GET /api/v2/instance says (Mastodon's defaults)."""

    max_characters: int = 500
    max_media_attachments: int = 4
    characters_reserved_per_url: int = 23
    image_size_limit: int = 16 * 1024 * 1024
    video_size_limit: int = 99 * 1024 * 1024
    supported_mime_types: tuple[str, ...] = (
        "image/jpeg", "image/png", "image/gif", "image/heic", "image/heif", "image/webp",
        "image/avif", "video/webm", "video/mp4", "video/quicktime", "video/ogg")


@dataclass
class App:
    client_id: str
    client_secret: str = field(repr=False)
    name: str
    redirect_uris: list[str]
    scopes: str


@dataclass
class InstanceStore:
    accounts: dict[str, MastoAccount] = field(default_factory=dict)  # by id
    tokens: dict[str, str] = field(default_factory=dict)  # token -> account id
    media: dict[str, MastoMedia] = field(default_factory=dict)
    statuses: dict[str, MastoStatus] = field(default_factory=dict)
    #: (account id, key) -> (status id, expires at)
    idempotency: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    #: Uploads answer 202 and are polled this many times before ready (0: images at once).
    processing_polls: int = 0
    apps: dict[str, App] = field(default_factory=dict)
    #: Authorization codes -> (client id, account id, scopes).
    codes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    instance_reads: int = 0
    #: Who consents in the OAuth dialog (an account id); None: the first account.
    signed_in: str | None = None


def store(state: FakeState) -> InstanceStore:
    """The state's instance store (made on first use; the caller holds state.lock)."""
    found = state.data.platforms.get(NAME)
    if not isinstance(found, InstanceStore):
        found = state.data.platforms[NAME] = InstanceStore()
    return found


def add_account(state: FakeState, username: str, token: str, *, name: str | None = None,
                **_: Any) -> MastoAccount:
    """An account answering to `token`: `username` (or its id, if all digits), `name` its
    display name."""
    with state.lock:
        instance = store(state)
        number = str(109_000_000_000_000_000 + state.next_number())
        account_id, handle = (username, f"user{username[-6:]}") if username.isdigit() else \
            (number, username.lower().removeprefix("@").split("@", 1)[0])
        account = MastoAccount(id=account_id, username=handle, token=token,
                               display_name=name or handle)
        instance.accounts[account_id] = account
        instance.tokens[token] = account_id
        return account


def configure(state: FakeState, *, processing_polls: int | None = None,
              **limits: Any) -> Limits:
    """Change what the instance allows (max_characters=5000...) and how long media
    processing takes."""
    with state.lock:
        instance = store(state)
        for key, value in limits.items():
            if not hasattr(instance.limits, key):
                raise ValueError(f"no instance limit {key!r}")
            setattr(instance.limits, key, value)
        if processing_polls is not None:
            instance.processing_polls = processing_polls
        return instance.limits


def statuses(state: FakeState, account_id: str | None = None) -> list[MastoStatus]:
    with state.lock:
        return [s for s in store(state).statuses.values()
                if account_id is None or s.account_id == account_id]


def account_by_name(state: FakeState, username: str) -> MastoAccount | None:
    with state.lock:
        return next((a for a in store(state).accounts.values() if a.username == username),
                    None)


def sign_in(state: FakeState, username: str) -> None:
    """Choose who consents in the fake's OAuth dialog."""
    account = account_by_name(state, username)
    if account is None:
        raise KeyError(f"no Mastodon account {username!r}")
    with state.lock:
        store(state).signed_in = account.id


def apps(state: FakeState) -> list[App]:
    with state.lock:
        return list(store(state).apps.values())
