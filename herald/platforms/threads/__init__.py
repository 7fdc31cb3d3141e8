"""Threads (Meta's Threads API, graph.threads.net): text, image, video and carousel posts
through media containers and `threads_publish`, with Instagram's exactly-once recipe
(the container is journaled before the commit; a PUBLISHED container went out).

See client.py and docs/platforms/threads.md.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from herald.platforms.spec import (
    ConnectSpec,
    Endpoint,
    FakeSpec,
    PlatformSpec,
    PreviewSpec,
    TokenRefresh,
)
from herald.platforms.threads import rules

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

NAME = "threads"
SETTINGS_NAMES = "HERALD_THREADS_APP_ID and HERALD_THREADS_APP_SECRET"
#: What publishing (and replying, for first comments) needs the token to carry.
PERMISSIONS = "threads_basic, threads_content_publish and threads_manage_replies"



async def _refresh(client: httpx.AsyncClient, *, token_url: str, client_id: str,
                   client_secret: str, refresh_token: str) -> RefreshedToken:
    # A long-lived Threads token renews itself (th_refresh_token): no app credentials and
    # no refresh token of its own, so the refresher hands it the access token.
    from herald.platforms.threads.oauth import refresh_long_lived

    renewed = await refresh_long_lived(client, api_url=token_url, token=refresh_token)
    return replace(renewed, refresh_token=None)  # nothing to keep beside the token itself


def _refresh_url(settings: Settings) -> str:
    # refresh_long_lived adds /refresh_access_token (graph.threads.net, unversioned).
    return settings.threads_api_url

def _publisher(client: httpx.AsyncClient, endpoint: Endpoint,
               fetcher: SafeFetcher) -> Publisher:
    # Meta fetches the media from its URL itself: the fetcher is not needed.
    from herald.platforms.threads.client import ThreadsPublisher

    if endpoint.quick:
        # The sandbox finishes containers at once; Meta asks for polls once a minute.
        return ThreadsPublisher(client, base_url=endpoint.base_url, version=endpoint.version,
                                poll_interval=0.2, max_poll_interval=1.0)
    return ThreadsPublisher(client, base_url=endpoint.base_url, version=endpoint.version)


def _endpoint(settings: Settings) -> Endpoint:
    return Endpoint(settings.threads_api_url, settings.threads_api_version)


async def _check_token(probe: TokenProbe) -> TokenStatus:
    from herald.platforms.threads.tokens import check_token

    return await check_token(probe)


def _flow(settings: Settings) -> Flow | None:
    from herald.platforms.threads.oauth import flow

    return flow(settings)


def _fake_mounts(state: FakeState) -> Mapping[str, list[BaseRoute]]:
    from herald.platforms.threads.fake.oauth import threads_oauth_routes
    from herald.platforms.threads.fake.routes import THREADS_MOUNT, threads_routes

    # The sign-in's routes first: the API's /{version}/{object} would take oauth/….
    return {THREADS_MOUNT: [*threads_oauth_routes(state), *threads_routes(state)]}


def _fake_account(state: FakeState, account_id: str, token: str,
                  options: dict[str, Any]) -> None:
    from herald.platforms.threads.fake.store import add_account

    add_account(state, account_id, token, **options)


def _fake_user(state: FakeState, user_id: str, name: str, body: dict[str, Any]) -> None:
    from herald.platforms.threads.fake.store import add_user

    add_user(state, user_id, name, body)


SPEC = PlatformSpec(
    name=NAME,
    display_name="Threads",
    short_name="TH",
    post_types=rules.POST_TYPES,
    rules=rules.check,
    publisher=_publisher,
    endpoint=_endpoint,
    check_token=_check_token,
    # Threads user ids are numeric, like Graph ids.
    sandbox_id=lambda digits: f"26{digits}",
    sandbox_mount="/threads",
    compose_limits={"chars": rules.TEXT_MAX},
    # Threads shows the whole text (500 characters at most), links clickable, media below
    # the text; a single image keeps its own shape up to 4:5, videos show 9:16.
    preview=PreviewSpec(frame="4:5", frames={"video": "9:16"}),
    reconciles=True,
    permissions=PERMISSIONS,
    # A first comment is a reply (a container with reply_to_id); every post can take one.
    first_comments=True,
    connect=ConnectSpec(settings_names=SETTINGS_NAMES, bind=_flow),
    # Renewed within the refresh window (60-day tokens), at least a day after issue.
    refresh=TokenRefresh(refresh=_refresh, settings_names=SETTINGS_NAMES,
                         self_refreshing=True, token_url=_refresh_url),
    fake=FakeSpec(mounts=_fake_mounts, add_user=_fake_user, add_account=_fake_account),
)

__all__ = ["NAME", "PERMISSIONS", "SETTINGS_NAMES", "SPEC"]
