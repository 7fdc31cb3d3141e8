"""Mastodon: an account is an instance URL and an access token.

Statuses go out under an Idempotency-Key chosen up front and kept in the journal, so a
resend cannot duplicate; the instance's own limits are read from it. See client.py and
docs/platforms/mastodon.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from herald.platforms.mastodon import rules
from herald.platforms.spec import (
    ConnectSpec,
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
    from herald.connect.base import Flow
    from herald.media.fetch import SafeFetcher
    from herald.platforms.base import Publisher
    from herald.platforms.fake.state import FakeState
    from herald.platforms.spec import TokenProbe

NAME = "mastodon"
#: The flagship instance, for accounts that name no server (most name theirs).
DEFAULT_SERVER = "https://mastodon.social"


def _publisher(client: httpx.AsyncClient, endpoint: Endpoint,
               fetcher: SafeFetcher) -> Publisher:
    from herald.platforms.mastodon.client import MastodonPublisher

    return MastodonPublisher(client, fetcher=fetcher, base_url=endpoint.base_url,
                             allow_private_servers=endpoint.allow_private_servers,
                             quick=endpoint.quick)


def _endpoint(settings: Settings) -> Endpoint:
    return Endpoint(DEFAULT_SERVER, "", allow_private_servers=settings.allow_private_server_urls)


async def _check_account(client: httpx.AsyncClient, server_url: str, external_id: str,
                         token: str) -> None:
    """The token opens the account named (its id or acct); the instance's limits are read
    while at it, for the checks of its posts."""
    from herald.platforms.base import PermanentError
    from herald.platforms.mastodon import instance
    from herald.platforms.mastodon.client import names_of, verify_credentials

    account = await verify_credentials(client, server_url, token)
    if external_id.strip().lower() not in names_of(account, server_url):
        raise PermanentError(f"the token belongs to @{account.get('acct')} (id "
                             f"{account.get('id')}), not {external_id!r}; use that account's "
                             "id or name as external_id, or its own token.")
    await instance.fetch(client, server_url)


async def _check_token(probe: TokenProbe) -> TokenStatus:
    """Mastodon tokens do not expire: valid is whether verify_credentials accepts it (the
    API does not say which scopes a token has)."""
    import httpx

    from herald.platforms.base import PublishError
    from herald.platforms.mastodon.client import verify_credentials

    try:
        await verify_credentials(probe.client, probe.server_url or DEFAULT_SERVER, probe.token)
    except PublishError as exc:
        if isinstance(exc.__cause__, httpx.TransportError):
            raise exc.__cause__ from None  # not reached: the doctor says so, not "bad token"
        return TokenStatus(False, problem=str(exc))
    return TokenStatus(True, scopes_checked=False)


def _server_limits(server_url: str) -> Mapping[str, int]:
    from herald.platforms.mastodon import instance

    return {"chars": instance.ensure(server_url).max_characters}


def _flow(settings: Settings) -> Flow | None:
    from herald.platforms.mastodon.oauth import flow

    return flow(settings)


def _fake_mounts(state: FakeState) -> Mapping[str, list[BaseRoute]]:
    from herald.platforms.mastodon.fake.routes import MASTODON_MOUNT, mastodon_routes

    return {MASTODON_MOUNT: mastodon_routes(state)}


def _fake_account(state: FakeState, account_id: str, token: str, options: dict[str, Any]
                  ) -> None:
    from herald.platforms.mastodon.fake.store import add_account

    add_account(state, account_id, token, **options)


SPEC = PlatformSpec(
    name=NAME,
    display_name="Mastodon",
    short_name="MA",
    post_types=rules.POST_TYPES,
    rules=rules.check,
    publisher=_publisher,
    endpoint=_endpoint,
    sandbox_id=lambda digits: f"sandbox{digits}",
    sandbox_mount="/mastodon",
    # Mastodon's default; the checks use each instance's own (instance.py).
    compose_limits={"chars": 500},
    # Statuses are shown whole (a content warning hides them behind "Show more"); lengths
    # are graphemes; one image is framed 16:9 in the web interface's timeline.
    preview=PreviewSpec(graphemes=True, frame="16:9"),
    reconciles=True,
    first_comments=True,
    permissions="write:statuses and write:media",
    server_url_default=DEFAULT_SERVER,
    check_account=_check_account,
    check_token=_check_token,
    server_limits=_server_limits,
    # Each instance registers Herald itself (oauth.py): nothing to set.
    connect=ConnectSpec(settings_names="", bind=_flow),
    fake=FakeSpec(mounts=_fake_mounts, add_account=_fake_account),
)

__all__ = ["DEFAULT_SERVER", "NAME", "SPEC"]
