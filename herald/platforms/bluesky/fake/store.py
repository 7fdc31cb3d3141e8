"""What the fake PDS remembers: accounts (DID, handle, app password), sessions, blobs and
each repository's post records. Kept in the fake's state under the platform's name, so
FakeState.reset() forgets it with everything else; every access holds the state's lock."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from herald.platforms.bluesky import NAME
from herald.platforms.fake.state import FakeState

#: The PDS takes blobs up to this size; a post's images must be at most 1,000,000 bytes
#: (checked when the record is written, as the lexicon says).
BLOB_MAX_BYTES = 5 * 1000 * 1000
#: Access tokens last 2 hours on a real PDS; the fake's last until expire_sessions().
ACCESS_SECONDS = 7200.0


@dataclass
class BskyAccount:
    did: str
    handle: str
    password: str = field(repr=False)
    name: str


@dataclass
class BskyRecord:
    uri: str
    cid: str
    value: dict[str, Any]
    created_at: float


@dataclass
class PdsStore:
    accounts: dict[str, BskyAccount] = field(default_factory=dict)  # by DID
    handles: dict[str, str] = field(default_factory=dict)  # handle -> DID
    access: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> DID, expiry
    refresh: dict[str, str] = field(default_factory=dict)  # token -> DID
    blobs: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # CID -> bytes, mime
    repos: dict[str, dict[str, BskyRecord]] = field(default_factory=dict)  # DID -> rkey -> …
    sign_ins: int = 0


def store(state: FakeState) -> PdsStore:
    """The state's PDS store (made on first use; the caller holds state.lock)."""
    found = state.data.platforms.get(NAME)
    if not isinstance(found, PdsStore):
        found = state.data.platforms[NAME] = PdsStore()
    return found


def did_for(handle: str) -> str:
    """A stable did:plc-shaped DID for a handle (24 base32 characters, as PLC's are)."""
    digest = hashlib.sha256(handle.lower().encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    number = int.from_bytes(digest[:15], "big")
    return "did:plc:" + "".join(alphabet[(number >> (5 * i)) & 31] for i in range(24))


def add_account(state: FakeState, handle_or_did: str, password: str, *,
                name: str | None = None, handle: str | None = None) -> BskyAccount:
    """An account signing in with `password` (its app password), by handle or DID."""
    if handle_or_did.startswith("did:"):
        did, handle = handle_or_did, handle or f"{handle_or_did.rsplit(':', 1)[-1]}.test"
    else:
        handle = handle_or_did.lower().removeprefix("@")
        did = did_for(handle)
    account = BskyAccount(did=did, handle=handle, password=password, name=name or handle)
    with state.lock:
        pds = store(state)
        pds.accounts[did] = account
        pds.handles[handle] = did
        pds.repos.setdefault(did, {})
    return account


def new_session(state: FakeState, did: str) -> tuple[str, str]:
    """A fresh (accessJwt, refreshJwt) pair for the account."""
    access, refresh = f"fake-access-{secrets.token_urlsafe(18)}", \
        f"fake-refresh-{secrets.token_urlsafe(18)}"
    with state.lock:
        pds = store(state)
        pds.access[access] = (did, state.now() + ACCESS_SECONDS)
        pds.refresh[refresh] = did
    return access, refresh


def expire_sessions(state: FakeState) -> None:
    """Every access token runs out now (the next call answers 400 ExpiredToken)."""
    with state.lock:
        pds = store(state)
        past = state.now() - 1
        pds.access = {token: (did, past) for token, (did, _) in pds.access.items()}


def records(state: FakeState, did: str) -> dict[str, BskyRecord]:
    with state.lock:
        return dict(store(state).repos.get(did, {}))


def sign_ins(state: FakeState) -> int:
    with state.lock:
        return store(state).sign_ins
