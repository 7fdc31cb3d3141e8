"""The FastAPI application factory (no settings or engines at import time)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from herald import __version__, metrics, proxies
from herald.api import (
    accounts,
    approvals,
    audit,
    auth,
    comments,
    company,
    health,
    imports,
    invitations,
    media,
    members,
    notifications,
    planning,
    posts,
    review_links,
    seed,
    series,
    sso,
    webhooks,
)
from herald.api import errors as api_errors
from herald.api.auth import TokenCache
from herald.api.idempotency import IdempotencyLayer
from herald.bodies import BodyGuard
from herald.media.static import MediaFiles
from herald.platforms.registry import SANDBOX_PATH
from herald.proxies import UVICORN_OPTIONS as UVICORN_OPTIONS  # for the CLI's servers
from herald.request_context import RequestLayer
from herald.runtime import Herald
from herald.services.companies import ApiCaller
from herald.unavailable import DatabaseUnavailable
from herald.web import is_form as is_web_form
from herald.worker import Wakeup, Worker

log = logging.getLogger(__name__)

#: Sync routes and database calls at once (anyio's default is 40). The work is mostly
#: Python holding the GIL: more threads only queue for it, and each would need a pooled
#: connection (herald.db.POOL_SIZE is larger, so requests never open new ones).
API_THREADS = 8


def create_app(herald: Herald, *, run_worker: bool = False, worker_id: str | None = None,
               freeze_heap: bool = False) -> FastAPI:
    """The API (and, for `herald run`, a worker in the same process and event loop).

    `freeze_heap` is for a server process: see `freeze_startup_objects`.
    """
    lifespan = _lifespan(herald, run_worker=run_worker, worker_id=worker_id,
                         freeze_heap=freeze_heap)
    # Swagger UI and ReDoc from Herald's own files, not a CDN: /docs works offline.
    app = FastAPIOffline(
        title="Herald",
        version=__version__,
        description="Schedule posts to Facebook Pages, Instagram and LinkedIn; Herald "
                    "publishes each exactly once, on time.",
        lifespan=lifespan,
    )
    app.state.herald = herald
    app.state.token_cache = TokenCache[ApiCaller]()
    app.state.queue_metrics = metrics.queue_registry(herald.db.engine)
    api_errors.install(app)
    _guard_bodies(app, herald)
    app.include_router(health.router)
    app.include_router(accounts.router, prefix="/api/v1")
    app.include_router(planning.router, prefix="/api/v1")
    app.include_router(company.router, prefix="/api/v1")
    app.include_router(sso.router, prefix="/api/v1")
    app.include_router(members.router, prefix="/api/v1")
    app.include_router(invitations.router, prefix="/api/v1")
    app.include_router(imports.router, prefix="/api/v1")
    app.include_router(posts.router, prefix="/api/v1")
    app.include_router(series.router, prefix="/api/v1")
    app.include_router(approvals.router, prefix="/api/v1")
    app.include_router(comments.router, prefix="/api/v1")
    app.include_router(audit.router, prefix="/api/v1")
    app.include_router(media.router, prefix="/api/v1")
    app.include_router(seed.router, prefix="/api/v1")
    app.include_router(webhooks.router, prefix="/api/v1")
    app.include_router(review_links.router, prefix="/api/v1")
    app.include_router(notifications.router, prefix="/api/v1")
    # The seed served these at the root; old clients keep working.
    app.include_router(seed.router, include_in_schema=False)
    if herald.settings.media_store == "local":
        media_dir = Path(herald.settings.media_dir)
        media_dir.mkdir(parents=True, exist_ok=True)
        app.mount("/media", MediaFiles(directory=media_dir), name="media")
    # The web UI: pages, its static files, sessions and CSRF, HTML error pages off /api.
    from herald.web import install as install_web

    install_web(app, herald)
    proxies.install(app, herald.settings)
    if herald.sandbox is not None:
        # After the web UI: its /sandbox/ page (per company, signed in) comes first.
        app.mount(SANDBOX_PATH, herald.sandbox.app, name="sandbox")
    # Around every layer that touches the database (token check, idempotency, routes).
    app.add_middleware(DatabaseUnavailable)
    # Outermost: it times and counts every answer, the 413s and 401s of the layers inside.
    app.add_middleware(RequestLayer)
    return app


def _guard_bodies(app: FastAPI, herald: Herald) -> None:
    # Added before the web UI's session middleware, so inside it: it sees the session.
    async def lookup(token: str) -> ApiCaller:
        return await to_thread.run_sync(auth.lookup, herald.db, token)

    # Inside BodyGuard: the token is checked (its company known) and the body capped.
    app.add_middleware(IdempotencyLayer, db=herald.db)
    app.add_middleware(BodyGuard, settings=herald.settings, cache=app.state.token_cache,
                       lookup=lookup, web_form=partial(is_web_form, app))


def _lifespan(herald: Herald, *, run_worker: bool, worker_id: str | None,
              freeze_heap: bool) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start-up and shut-down: the in-process worker, if any, and closing what Herald holds."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task: asyncio.Task[Any] | None = None
        worker: Worker | None = None
        disconnect: Callable[[], None] | None = None
        to_thread.current_default_thread_limiter().total_tokens = API_THREADS
        if run_worker:
            wakeup = Wakeup()
            disconnect = herald.queue_changed.connect(wakeup)
            worker = build_worker(herald, worker_id=worker_id, wakeup=wakeup)
            task = asyncio.create_task(worker.run(), name="worker")
        if freeze_heap:
            freeze_startup_objects()
        warming = asyncio.create_task(asyncio.to_thread(_warm_server_limits, herald),
                                      name="server-limits")
        try:
            yield
        finally:
            await warming  # a quick read; the instances are then asked in threads of their own
            if worker is not None and task is not None:
                worker.stop()
                await task
            if disconnect is not None:
                disconnect()
            await herald.aclose()
            herald.db.dispose()

    return lifespan


def _warm_server_limits(herald: Herald) -> None:
    """Read the own limits of the accounts' servers (Mastodon instances) in the background,
    so the first checks of their posts after a restart use them."""
    from herald.platforms.registry import warm_server_limits
    from herald.services.accounts import servers_in_use

    try:
        with herald.db.session() as session:
            servers = servers_in_use(session)
    except Exception:  # a database not there yet: the first checks read them instead
        log.warning("could not list the accounts' servers to read their limits",
                    exc_info=True)
        return
    warm_server_limits(servers)


def freeze_startup_objects() -> None:
    """Keep the objects made at start-up (modules, app, mappers) out of the cycle collector.

    A full collection visits every tracked object; with FastAPI, SQLAlchemy and pydantic
    loaded that took 80-170 ms under load, a pause every few seconds that set the API's
    p99. Frozen, they are never visited again, and never freed: only for a process that
    serves until it exits, not for one that builds apps over and over (tests).
    """
    gc.collect()
    gc.freeze()


def build_worker(herald: Herald, *, worker_id: str | None = None,
                 wakeup: Wakeup | None = None, **overrides: Any) -> Worker:
    return herald.build_worker(worker_id=worker_id, wakeup=wakeup, **overrides)


def app_from_env() -> FastAPI:
    """The API as configured by the environment (for `herald serve --workers N`)."""
    from herald.config import load_settings

    return create_app(Herald.build(load_settings()), freeze_heap=True)
