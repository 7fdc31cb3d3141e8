"""create_fake_app: one ASGI app serving every platform's fake (each spec's part), the
admin API and the sandbox page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from herald.media.fetch import FetchRules
from herald.platforms.fake.admin import admin_routes
from herald.platforms.fake.media_check import MediaFetcher
from herald.platforms.fake.page import page_route
from herald.platforms.fake.state import FakeState
from herald.platforms.registry import SPECS

ADMIN_MOUNT = "/_fake"


def create_fake_app(
    state: FakeState | None = None,
    *,
    admin: bool = True,
    media_transport: httpx.AsyncBaseTransport | None = None,
    media_rules: FetchRules | None = None,
    page: bool = True,
) -> Starlette:
    """The fake platforms as one app; mount it anywhere (e.g. under /sandbox).

    `admin=False` leaves out the /_fake admin API (and its file hosting), e.g. for a
    sandbox exposed to users. `media_transport` replaces the network for media fetches;
    `media_rules` makes them obey Herald's address rules. `page=False` leaves out the
    page listing every account's posts (Herald serves its own, per company).
    """
    state = state or FakeState()
    fetcher = MediaFetcher(media_transport, media_rules)
    routes: list[BaseRoute] = [page_route(state)] if page else []
    routes += [Mount(path, routes=mounted) for path, mounted in _mounts(state, fetcher).items()]
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


def _mounts(state: FakeState, fetcher: MediaFetcher) -> dict[str, list[BaseRoute]]:
    # Imported here, not at the top: graph/fake.py imports this package's calls module,
    # whose package __init__ imports this module, so importing herald.platforms.graph.fake
    # first (as bench.chaos does) would find it half made.
    from herald.platforms.graph.fake import GRAPH_MOUNT, GraphRouter, graph_routes

    router = GraphRouter()
    mounts: dict[str, list[BaseRoute]] = {}
    for spec in SPECS:
        if spec.fake is None:
            continue
        if spec.fake.graph is not None:
            router.include(spec.fake.graph())
        for path, routes in spec.fake.mounts(state).items():
            mounts.setdefault(path, []).extend(routes)
        if spec.fake.graph_host is not None:
            # After the spec's own routes on that mount (its token endpoints), as below.
            host, own = spec.fake.graph_host()
            mounts.setdefault(host.mount, []).extend(graph_routes(state, fetcher, own, host))
    # Last: the generic /{version}/{object}/{edge} route would take oauth/access_token.
    mounts.setdefault(GRAPH_MOUNT, []).extend(graph_routes(state, fetcher, router))
    return mounts
