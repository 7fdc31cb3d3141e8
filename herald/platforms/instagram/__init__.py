"""Instagram professional accounts, through the Graph API with Facebook Login.

No connect flow of its own: its accounts come with their Facebook Pages through Facebook
Login (herald.platforms.facebook.oauth). Accounts without a Page use Instagram Login, the
`instagram_login` entry, which publishes with this folder's client, rules and options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from herald.platforms.instagram import options, rules
from herald.platforms.spec import Endpoint, FakeSpec, PlatformSpec, PreviewSpec

if TYPE_CHECKING:
    import httpx

    from herald.config import Settings
    from herald.media.fetch import SafeFetcher
    from herald.platforms.base import Publisher
    from herald.platforms.graph.fake import GraphRouter
    from herald.platforms.spec import TokenProbe, TokenStatus
    from herald.platforms.versions import ApiVersion

NAME = "instagram"


def _publisher(client: httpx.AsyncClient, endpoint: Endpoint,
               fetcher: SafeFetcher) -> Publisher:
    # Meta downloads the media itself: the fetcher is not needed.
    from herald.platforms.instagram.client import InstagramPublisher

    if endpoint.quick:
        # The sandbox finishes containers at once; Meta asks for polls about once a minute.
        return InstagramPublisher(client, base_url=endpoint.base_url, version=endpoint.version,
                                  poll_interval=0.2, max_poll_interval=1.0)
    return InstagramPublisher(client, base_url=endpoint.base_url, version=endpoint.version)


def _api_version(settings: Settings) -> ApiVersion:
    from herald.platforms.graph.versions import api_version

    return api_version(settings)


#: The scopes its publishing needs, which `herald doctor` asks Meta the token has.
REQUIRED_SCOPES = ("instagram_basic", "instagram_content_publish", "pages_read_engagement")


async def _check_token(probe: TokenProbe) -> TokenStatus:
    from herald.platforms.graph.tokens import debug_token

    return await debug_token(probe, REQUIRED_SCOPES)


def _endpoint(settings: Settings) -> Endpoint:
    return Endpoint(settings.graph_api_url, settings.graph_api_version)


def _fake_graph() -> GraphRouter:
    from herald.platforms.instagram.fake.routes import ROUTES

    return ROUTES


SPEC = PlatformSpec(
    name=NAME,
    display_name="Instagram",
    short_name="IG",
    post_types=rules.POST_TYPES,
    rules=rules.check,
    publisher=_publisher,
    endpoint=_endpoint,
    api_version=_api_version,
    check_token=_check_token,
    sandbox_id=lambda digits: f"17841{digits}",
    sandbox_mount="/graph",
    compose_limits={"chars": rules.INSTAGRAM_CAPTION_MAX,
                    "hashtags": rules.INSTAGRAM_HASHTAGS_MAX},
    # The feed shows about 125 characters (two lines) before "more"; caption links are
    # not clickable; feed media is framed at most 4:5 tall, reels and stories fill 9:16.
    preview=PreviewSpec(fold=125, fold_lines=2, more="… more", links=False, frame="4:5",
                        media_first=True,
                        frames={"reel": "9:16", "story": "9:16", "video": "9:16"}),
    # A feed_story is two posts, the feed post and the story, tracked separately.
    splits={"feed_story": ("feed", "story")},
    reconciles=True,
    part_options=options.part_options,
    first_comments=True,
    comment_refusal=lambda post_type, _account: (
        "Instagram stories take no comments" if post_type == "story" else None),
    permissions="instagram_basic, instagram_content_publish and pages_read_engagement",
    fake=FakeSpec(mounts=lambda state: {}, graph=_fake_graph),
)

__all__ = ["NAME", "SPEC"]
