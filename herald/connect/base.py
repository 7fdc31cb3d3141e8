"""What every OAuth flow is and produces: the Flow a platform's oauth.py binds to its app,
the Offer of accounts the person may add, and the one error every step of a flow maps to."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from herald.connect.server_apps import ServerApps


class ConnectError(Exception):
    """The platform did not let Herald connect the account; nothing was saved."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Flow:
    """One platform's connect flow, bound to the configured app."""

    name: str
    title: str
    platform_label: str
    authorize: Callable[[str, str], str]
    problem: Callable[[dict[str, str]], str | None]
    fetch: Callable[[httpx.AsyncClient, str, str], Awaitable[Offer]]
    #: Said under the pick list about the tokens this flow stores.
    token_note: str = ""
    #: For platforms whose every server is its own OAuth provider (a Mastodon instance):
    #: the person names the server first, and this returns the flow bound to it
    #: (client, the registered apps, server URL, redirect URI), registering Herald's app
    #: with the server the first time. `authorize` and `fetch` above are then unused.
    per_server: Callable[[httpx.AsyncClient, ServerApps, str, str], Awaitable[Flow]] | None \
        = None


@dataclass(frozen=True)
class Candidate:
    """One account the flow found, with the token to publish as it."""

    platform: str
    external_id: str
    name: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    #: What the account is, for the pick list ("Instagram account of the Page Acme").
    detail: str = ""
    #: A caveat shown beside it and after saving ("No Instagram account is linked").
    note: str = ""
    #: The account's own server (a Mastodon instance), for platforms that have them.
    server_url: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.external_id}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("token_expires_at", "refresh_token_expires_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Candidate:
        values = dict(data)
        for name in ("token_expires_at", "refresh_token_expires_at"):
            raw = values.get(name)
            values[name] = datetime.fromisoformat(raw) if raw else None
        return cls(**values)


@dataclass(frozen=True)
class Offer:
    """The accounts one sign-in reached; `notes` say what was left out and why."""

    flow: str
    candidates: tuple[Candidate, ...]
    notes: tuple[str, ...] = ()

    def pick(self, keys: Iterable[str]) -> list[Candidate]:
        """The candidates whose keys were ticked, in offer order; unknown keys are ignored."""
        wanted = set(keys)
        return [c for c in self.candidates if c.key in wanted]

    def to_json(self) -> str:
        return json.dumps({"flow": self.flow, "notes": list(self.notes),
                           "candidates": [c.to_dict() for c in self.candidates]})

    @classmethod
    def from_json(cls, raw: str) -> Offer:
        data = json.loads(raw)
        return cls(flow=str(data["flow"]), notes=tuple(data.get("notes", ())),
                   candidates=tuple(Candidate.from_dict(c) for c in data["candidates"]))


def body_of(response: httpx.Response) -> dict[str, Any]:
    """A JSON object body, or {} (an HTML error page from a proxy is not JSON)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def scrub(text: str, *secrets: str | None) -> str:
    """`text` without any of `secrets`: platform messages sometimes echo what was sent."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[secret]")
    return text


def unreachable(platform: str, exc: httpx.HTTPError) -> ConnectError:
    return ConnectError(f"Herald could not reach {platform} ({type(exc).__name__}); nothing "
                        "was connected. Try again in a moment.")
