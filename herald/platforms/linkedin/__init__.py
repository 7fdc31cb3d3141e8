"""LinkedIn members and organizations, through LinkedIn's REST API; its access tokens are
refreshed before they expire when LinkedIn gave a refresh token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from herald.platforms.linkedin import rules
from herald.platforms.spec import (
    ConnectSpec,
    Endpoint,
    FakeSpec,
    PlatformSpec,
    PreviewSpec,
    TokenRefresh,
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
    from herald.platforms.spec import RefreshedToken, TokenProbe, TokenStatus
    from herald.platforms.versions import ApiVersion

NAME = "linkedin"
SETTINGS_NAMES = "HERALD_LINKEDIN_CLIENT_ID and HERALD_LINKEDIN_CLIENT_SECRET"


def _publisher(client: httpx.AsyncClient, endpoint: Endpoint,
               fetcher: SafeFetcher) -> Publisher:
    from herald.platforms.linkedin.client import LinkedInPublisher

    if endpoint.quick:
        # The sandbox finishes videos at once; real uploads take minutes to process.
        return LinkedInPublisher(client, fetcher=fetcher, base_url=endpoint.base_url,
                                 version=endpoint.version, poll_interval=0.2,
                                 max_poll_interval=1.0)
    return LinkedInPublisher(client, fetcher=fetcher, base_url=endpoint.base_url,
                             version=endpoint.version)


def _api_version(settings: Settings) -> ApiVersion:
    from herald.platforms.linkedin.versions import api_version

    return api_version(settings)


async def _check_token(probe: TokenProbe) -> TokenStatus:
    from herald.platforms.linkedin.tokens import check_token

    return await check_token(probe)


def _endpoint(settings: Settings) -> Endpoint:
    return Endpoint(settings.linkedin_api_url, settings.linkedin_version)


def _flow(settings: Settings) -> Flow | None:
    from herald.platforms.linkedin.oauth import flow

    return flow(settings)


async def _refresh(client: httpx.AsyncClient, *, token_url: str, client_id: str,
                   client_secret: str, refresh_token: str) -> RefreshedToken:
    from herald.platforms.linkedin.client import refresh_access_token

    return await refresh_access_token(client, token_url=token_url, client_id=client_id,
                                      client_secret=client_secret, refresh_token=refresh_token)


def _fake_mounts(state: FakeState) -> Mapping[str, list[BaseRoute]]:
    from herald.platforms.linkedin.fake.api import LINKEDIN_MOUNT
    from herald.platforms.linkedin.fake.oauth import linkedin_oauth_routes
    from herald.platforms.linkedin.fake.routes import linkedin_routes

    return {LINKEDIN_MOUNT: [*linkedin_routes(state), *linkedin_oauth_routes(state)]}


def _fake_user(state: FakeState, user_id: str, name: str, body: dict[str, Any]) -> None:
    from herald.platforms.linkedin.fake.oauth import add_user

    add_user(state, user_id, name, body)


def _comment_refusal(post_type: str, author: str) -> str | None:
    if author.startswith("urn:li:organization:"):
        return None
    return "LinkedIn first comments are posted as an organization; this account is a member"


SPEC = PlatformSpec(
    name=NAME,
    display_name="LinkedIn",
    short_name="in",
    post_types=rules.POST_TYPES,
    rules=rules.check,
    publisher=_publisher,
    endpoint=_endpoint,
    api_version=_api_version,
    check_token=_check_token,
    sandbox_id=lambda digits: f"urn:li:person:sandbox{digits}",
    sandbox_mount="/linkedin",
    compose_limits={"chars": rules.LINKEDIN_COMMENTARY_MAX},
    # The feed folds commentary after about 210 characters (three lines) behind "…see more".
    preview=PreviewSpec(fold=210, fold_lines=3, more="…see more", frame="1.91:1",
                        frames={"feed": "1:1", "carousel": "4:5", "video": "16:9"}),
    reconciles=True,
    # socialActions comments as a member need its own grant; Herald comments as a Page.
    first_comments=True,
    comment_refusal=_comment_refusal,
    refresh=TokenRefresh(refresh=_refresh, settings_names=SETTINGS_NAMES),
    connect=ConnectSpec(settings_names=SETTINGS_NAMES, bind=_flow),
    fake=FakeSpec(mounts=_fake_mounts, add_user=_fake_user),
)

__all__ = ["NAME", "SPEC"]
