"""Facebook Pages, published through the Graph API; Facebook Login also connects the
Instagram accounts linked to the Pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from herald.platforms.facebook import rules
from herald.platforms.spec import ConnectSpec, Endpoint, FakeSpec, PlatformSpec, PreviewSpec

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx
    from starlette.routing import BaseRoute

    from herald.config import Settings
    from herald.connect.base import Flow
    from herald.media.fetch import SafeFetcher
    from herald.platforms.base import Publisher
    from herald.platforms.fake.state import FakeState
    from herald.platforms.graph.fake import GraphRouter
    from herald.platforms.spec import TokenProbe, TokenStatus
    from herald.platforms.versions import ApiVersion

NAME = "facebook"


def _publisher(client: httpx.AsyncClient, endpoint: Endpoint,
               fetcher: SafeFetcher) -> Publisher:
    # Meta downloads the media itself: the fetcher is not needed.
    from herald.platforms.facebook.client import FacebookPublisher
    from herald.platforms.facebook.sessions import Polls

    # The sandbox processes reels at once; Meta takes seconds to minutes.
    polls = Polls(first=0.1, cap=0.5, max_wait=30.0) if endpoint.quick else None
    return FacebookPublisher(client, base_url=endpoint.base_url, version=endpoint.version,
                             polls=polls)


def _api_version(settings: Settings) -> ApiVersion:
    from herald.platforms.graph.versions import api_version

    return api_version(settings)


#: The scopes its publishing needs, which `herald doctor` asks Meta the token has.
REQUIRED_SCOPES = ("pages_manage_posts", "pages_read_engagement", "pages_show_list")


async def _check_token(probe: TokenProbe) -> TokenStatus:
    from herald.platforms.graph.tokens import debug_token

    return await debug_token(probe, REQUIRED_SCOPES)


def _endpoint(settings: Settings) -> Endpoint:
    return Endpoint(settings.graph_api_url, settings.graph_api_version)


def _flow(settings: Settings) -> Flow | None:
    from herald.platforms.facebook.oauth import flow

    return flow(settings)


def _fake_mounts(state: FakeState) -> Mapping[str, list[BaseRoute]]:
    from herald.platforms.facebook.fake.oauth import (
        FACEBOOK_MOUNT,
        facebook_routes,
        graph_oauth_routes,
    )
    from herald.platforms.facebook.fake.reels import RUPLOAD_MOUNT, rupload_routes
    from herald.platforms.graph.fake import GRAPH_MOUNT

    # Facebook Login's dialog (www.facebook.com) and its token exchange on the Graph API;
    # rupload.facebook.com, where reels' and video stories' bytes go.
    return {GRAPH_MOUNT: list(graph_oauth_routes(state)),
            FACEBOOK_MOUNT: list(facebook_routes(state)),
            RUPLOAD_MOUNT: list(rupload_routes(state))}


def _fake_user(state: FakeState, user_id: str, name: str, body: dict[str, Any]) -> None:
    from herald.platforms.facebook.fake.oauth import add_user

    add_user(state, user_id, name, body)


def _fake_graph() -> GraphRouter:
    from herald.platforms.facebook.fake.routes import ROUTES

    return ROUTES


SPEC = PlatformSpec(
    name=NAME,
    display_name="Facebook",
    short_name="FB",
    post_types=rules.POST_TYPES,
    rules=rules.check,
    publisher=_publisher,
    endpoint=_endpoint,
    api_version=_api_version,
    check_token=_check_token,
    sandbox_id=lambda digits: f"10{digits}",
    sandbox_mount="/graph",
    compose_limits={"chars": rules.FACEBOOK_CAPTION_MAX},
    # Long posts fold after about 480 characters (five lines on a phone) behind "See more";
    # a link's card image is 1.91:1.
    # Reels and stories fill a phone's screen (9:16).
    preview=PreviewSpec(fold=480, fold_lines=5, more="… See more", frame="4:5",
                        frames={"article": "1.91:1", "video": "16:9", "reel": "9:16",
                                "story": "9:16"}),
    reconciles=True,
    first_comments=True,
    comment_refusal=rules.comment_refusal,
    permissions="pages_manage_posts, pages_read_engagement and pages_show_list "
                "(publish_video for videos)",
    connect=ConnectSpec(
        settings_names="HERALD_FACEBOOK_APP_ID and HERALD_FACEBOOK_APP_SECRET", bind=_flow),
    fake=FakeSpec(mounts=_fake_mounts, graph=_fake_graph, add_user=_fake_user),
)

__all__ = ["NAME", "SPEC"]
