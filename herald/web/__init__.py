"""The web UI: server-rendered pages (Jinja2) with htmx, over the same services as the API.

`install(app, herald)` adds it to an app made by `herald.app.create_app(herald)`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `herald worker` imports herald.web.cli: no FastAPI in a worker (RSS)
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Receive, Scope, Send

    from herald.runtime import Herald

STATIC_DIR = Path(__file__).parent / "static"
#: The REST API's paths: no session cookie, no Server-Timing (see WebOnly).
API_PREFIX = "/api/"


class WebOnly:
    """Runs a middleware of the web UI's for every request but the REST API's.

    The API authenticates by bearer token and never reads the session cookie or shows
    Server-Timing, and every ASGI layer costs CPU on each of its requests.
    """

    def __init__(self, app: ASGIApp, /, *, middleware: Callable[..., ASGIApp],
                 **options: Any) -> None:
        self.app = app
        self.wrapped = middleware(app, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
        else:
            await self.wrapped(scope, receive, send)


def is_form(app: Any, path: str) -> bool:
    """Whether an unsafe request to `path` goes to a web UI route (all need the CSRF token)."""
    patterns: list[Any] = getattr(app.state, "web_form_patterns", [])
    return any(p.match(path) for p in patterns)


def _form_patterns(routers: list[Any]) -> list[Any]:
    """The paths of the web UI's unsafe routes, as their routers list them (no prefixes)."""
    from fastapi.routing import APIRoute

    return [route.path_regex for router in routers for route in router.routes
            if isinstance(route, APIRoute)
            and (route.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}]


def install(app: FastAPI, herald: Herald) -> None:
    """Add the pages, /static, session and timing middleware and HTML error pages to `app`."""
    # Imported here: the routes import herald.web's modules, which import this package.
    from fastapi.staticfiles import StaticFiles

    from herald.web import errors, sessions
    from herald.web.routes import (
        accounts,
        approvals,
        audit,
        calendar,
        comments,
        compose,
        dashboard,
        ics,
        imports,
        notifications,
        posts,
        queue,
        review,
        sandbox,
        settings,
        signin,
        sso,
        team,
        webhooks,
    )
    from herald.web.timing import ServerTiming

    sessions.add_session_middleware(app, herald)
    # Added last, so it is outermost and times everything of a page.
    app.add_middleware(WebOnly, middleware=ServerTiming)
    errors.install(app)
    modules = (signin, dashboard, calendar, compose, posts, approvals, comments, accounts,
               queue, settings, sandbox, imports, ics, audit, webhooks, notifications,
               review, team, sso)
    for module in modules:
        app.include_router(module.router)
    # herald.bodies.BodyGuard checks these forms' session and CSRF before their bodies.
    app.state.web_form_patterns = _form_patterns([m.router for m in modules])
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="web-static")
