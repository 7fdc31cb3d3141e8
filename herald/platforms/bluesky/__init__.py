"""Bluesky (the AT Protocol): an account is a PDS URL, a handle or DID, and an app password.

Posts are records written with a record key Herald picks, so a resend cannot duplicate;
see client.py and docs/platforms/bluesky.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from herald.platforms.bluesky import rules
from herald.platforms.spec import (
    Endpoint,
    FakeSpec,
    PlatformSpec,
    PreviewSpec,
    TokenStatus,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx
    from starlette.routing import BaseRoute

    from herald.config import Settings
    from herald.media.fetch import SafeFetcher
    from herald.platforms.base import Publisher
    from herald.platforms.fake.state import FakeState
    from herald.platforms.spec import TokenProbe

NAME = "bluesky"
#: Bluesky's own PDS (its entryway), for accounts that name no server.
DEFAULT_SERVER = "https://bsky.social"


def _publisher(client: httpx.AsyncClient, endpoint: Endpoint,
               fetcher: SafeFetcher) -> Publisher:
    from herald.platforms.bluesky.client import BlueskyPublisher

    return BlueskyPublisher(client, fetcher=fetcher, base_url=endpoint.base_url,
                            allow_private_servers=endpoint.allow_private_servers)


def _endpoint(settings: Settings) -> Endpoint:
    return Endpoint(DEFAULT_SERVER, "", allow_private_servers=settings.allow_private_server_urls)


async def _check_account(client: httpx.AsyncClient, server_url: str, external_id: str,
                         token: str) -> None:
    from herald.platforms.bluesky.client import create_session

    await create_session(client, server_url, external_id, token)


async def _check_token(probe: TokenProbe) -> TokenStatus:
    """An app password does not expire: valid is whether the PDS opens a session."""
    import httpx

    from herald.platforms.base import PublishError
    from herald.platforms.bluesky.client import create_session

    try:
        await create_session(probe.client, probe.server_url or DEFAULT_SERVER,
                             probe.external_id, probe.token)
    except PublishError as exc:
        if isinstance(exc.__cause__, httpx.TransportError):
            raise exc.__cause__ from None  # not reached: the doctor says so, not "bad token"
        return TokenStatus(False, problem=str(exc))
    return TokenStatus(True)


def _fake_mounts(state: FakeState) -> Mapping[str, list[BaseRoute]]:
    from herald.platforms.bluesky.fake.routes import BLUESKY_MOUNT, bluesky_routes

    return {BLUESKY_MOUNT: bluesky_routes(state)}


def _fake_account(state: FakeState, account_id: str, token: str, options: dict[str, Any]
                  ) -> None:
    from herald.platforms.bluesky.fake.store import add_account

    add_account(state, account_id, token, **options)


SPEC = PlatformSpec(
    name=NAME,
    display_name="Bluesky",
    short_name="BS",
    post_types=rules.POST_TYPES,
    rules=rules.check,
    publisher=_publisher,
    endpoint=_endpoint,
    sandbox_id=lambda digits: f"sandbox{digits}.bsky.social",
    sandbox_mount="/bluesky",
    compose_limits={"chars": rules.TEXT_MAX_GRAPHEMES},
    # Posts are short and shown whole; lengths are graphemes; images framed 4:3 in the feed.
    preview=PreviewSpec(graphemes=True, frame="4:3", frames={"article": "1.91:1"}),
    reconciles=True,
    first_comments=True,
    server_url_default=DEFAULT_SERVER,
    check_account=_check_account,
    check_token=_check_token,
    fake=FakeSpec(mounts=_fake_mounts, add_account=_fake_account),
)

__all__ = ["DEFAULT_SERVER", "NAME", "SPEC"]
