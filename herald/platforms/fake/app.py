"""create_fake_app: one ASGI app serving the fake Graph API, LinkedIn, admin API and page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from herald.platforms.fake import facebook, instagram
from herald.platforms.fake.admin import admin_routes
from herald.platforms.fake.graph import GRAPH_MOUNT, GraphRouter, graph_routes
from herald.platforms.fake.linkedin import linkedin_routes
from herald.platforms.fake.linkedin_api import LINKEDIN_MOUNT
from herald.platforms.fake.media_check import MediaFetcher
from herald.platforms.fake.oauth_facebook import FACEBOOK_MOUNT, facebook_routes, graph_oauth_routes
from herald.platforms.fake.oauth_linkedin import linkedin_oauth_routes
from herald.platforms.fake.page import page_route
from herald.platforms.fake.state import FakeState

ADMIN_MOUNT = "/_fake"


def create_fake_app(
    state: FakeState | None = None,
    *,
    admin: bool = True,
    media_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The fake platforms as one app; mount it anywhere (e.g. under /sandbox).

    `admin=False` leaves out the /_fake admin API (and its file hosting), e.g. for a
    sandbox exposed to users. `media_transport` replaces the network for media fetches.
    """
    state = state or FakeState()
    fetcher = MediaFetcher(media_transport)
    router = GraphRouter()
    router.include(instagram.ROUTES)
    router.include(facebook.ROUTES)
    routes: list[BaseRoute] = [
        page_route(state),
        # oauth/access_token first: the generic /{version}/{object}/{edge} route would take it.
        Mount(GRAPH_MOUNT, routes=[*graph_oauth_routes(state),
                                   *graph_routes(state, fetcher, router)]),
        Mount(FACEBOOK_MOUNT, routes=facebook_routes(state)),
        Mount(LINKEDIN_MOUNT, routes=[*linkedin_routes(state), *linkedin_oauth_routes(state)]),
    ]
    if admin:
        routes.append(Mount(ADMIN_MOUNT, routes=admin_routes(state)))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Only runs when the fake is the top-level app; mounted, the client is left to GC.
        yield
        await fetcher.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.fake = state
    return app
