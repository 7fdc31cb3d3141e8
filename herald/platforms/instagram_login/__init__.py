"""Instagram professional accounts through the Instagram API with Instagram Login
(graph.instagram.com): accounts with no Facebook Page, connected with their own Instagram
sign-in, whose long-lived tokens (60 days) are refreshed before they expire.

A platform entry of its own beside `instagram` (Facebook Login), so that a user picks the
login when connecting and every list names it; it publishes with the same publisher
(instagram/client.py) on its own host, token and error wording, with the same rules,
post types and options. See docs/platforms/instagram.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from herald.platforms.instagram import options, rules
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
    from herald.platforms.graph.fake import GraphHost, GraphRouter
    from herald.platforms.spec import RefreshedToken, TokenProbe, TokenStatus
    from herald.platforms.versions import ApiVersion

NAME = "instagram_login"
SETTINGS_NAMES = "HERALD_INSTAGRAM_APP_ID and HERALD_INSTAGRAM_APP_SECRET"
#: The scopes publishing needs (first comments also need instagram_business_manage_comments).
REQUIRED_SCOPES = ("instagram_business_basic", "instagram_business_content_publish")


def _publisher(client: httpx.AsyncClient, endpoint: Endpoint,
               fetcher: SafeFetcher) -> Publisher:
    from herald.platforms.instagram.client import IgApi, InstagramPublisher
    from herald.platforms.instagram_login.errors import login_error

    api = IgApi(platform=NAME, errors=login_error)
    if endpoint.quick:
        return InstagramPublisher(client, base_url=endpoint.base_url, version=endpoint.version,
                                  poll_interval=0.2, max_poll_interval=1.0, api=api)
    return InstagramPublisher(client, base_url=endpoint.base_url, version=endpoint.version,
                              api=api)


def _endpoint(settings: Settings) -> Endpoint:
    return Endpoint(settings.instagram_api_url, settings.graph_api_version)


def _api_version(settings: Settings) -> ApiVersion:
    from herald.platforms.graph.versions import api_version

    return api_version(settings)


async def _check_token(probe: TokenProbe) -> TokenStatus:
    from herald.platforms.instagram_login.tokens import check_token

    return await check_token(probe, REQUIRED_SCOPES)


def _flow(settings: Settings) -> Flow | None:
    from herald.platforms.instagram_login.oauth import flow

    return flow(settings)


async def _refresh(client: httpx.AsyncClient, *, token_url: str, client_id: str,
                   client_secret: str, refresh_token: str) -> RefreshedToken:
    from herald.platforms.instagram_login.tokens import refresh_long_lived

    return await refresh_long_lived(client, token_url=token_url, token=refresh_token)


def _refresh_url(settings: Settings) -> str:
    return f"{settings.instagram_api_url}/refresh_access_token"


def _fake_host() -> tuple[GraphHost, GraphRouter]:
    from herald.platforms.instagram_login.fake.routes import HOST, ROUTES

    return HOST, ROUTES


def _fake_mounts(state: FakeState) -> Mapping[str, list[BaseRoute]]:
    from herald.platforms.instagram_login.fake.oauth import INSTAGRAM_MOUNT, oauth_routes

    return {INSTAGRAM_MOUNT: [*oauth_routes(state)]}


def _fake_user(state: FakeState, user_id: str, name: str, body: dict[str, Any]) -> None:
    from herald.platforms.instagram_login.fake.oauth import add_user

    add_user(state, user_id, name, body)


def _fake_account(state: FakeState, account_id: str, token: str,
                  options: dict[str, Any]) -> None:
    from herald.platforms.instagram_login.fake.oauth import add_account

    add_account(state, account_id, token, **options)


SPEC = PlatformSpec(
    name=NAME,
    display_name="Instagram (Instagram Login)",
    short_name="IG",
    post_types=rules.POST_TYPES,
    rules=rules.check,
    publisher=_publisher,
    endpoint=_endpoint,
    api_version=_api_version,
    check_token=_check_token,
    sandbox_id=lambda digits: f"17841{digits}",
    sandbox_mount="/instagram",
    compose_limits={"chars": rules.INSTAGRAM_CAPTION_MAX,
                    "hashtags": rules.INSTAGRAM_HASHTAGS_MAX},
    # The same app, the same feed: see instagram/__init__.py.
    preview=PreviewSpec(fold=125, fold_lines=2, more="… more", links=False, frame="4:5",
                        media_first=True,
                        frames={"reel": "9:16", "story": "9:16", "video": "9:16"}),
    splits={"feed_story": ("feed", "story")},
    reconciles=True,
    part_options=options.part_options,
    first_comments=True,
    comment_refusal=lambda post_type, _account: (
        "Instagram stories take no comments" if post_type == "story" else None),
    permissions="instagram_business_basic, instagram_business_content_publish and "
                "instagram_business_manage_comments",
    refresh=TokenRefresh(refresh=_refresh, settings_names=SETTINGS_NAMES,
                         self_refreshing=True, token_url=_refresh_url),
    connect=ConnectSpec(settings_names=SETTINGS_NAMES, bind=_flow),
    fake=FakeSpec(mounts=_fake_mounts, graph_host=_fake_host, add_user=_fake_user,
                  add_account=_fake_account),
)

__all__ = ["NAME", "SPEC"]
