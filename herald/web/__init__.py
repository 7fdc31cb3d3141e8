"""The web UI: server-rendered pages (Jinja2) with htmx, over the same services as the API.

`install(app, herald)` adds it to an app made by `herald.app.create_app(herald)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `herald worker` imports herald.web.cli: no FastAPI in a worker (RSS)
    from fastapi import FastAPI

    from herald.state import Herald

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI, herald: Herald) -> None:
    """Add the pages, /static, session and timing middleware and HTML error pages to `app`."""
    # Imported here: the routes import herald.web's modules, which import this package.
    from fastapi.staticfiles import StaticFiles

    from herald.web import errors, sessions
    from herald.web.routes import accounts, calendar, compose, dashboard, posts, settings, signin
    from herald.web.timing import ServerTiming

    sessions.add_session_middleware(app, herald)
    app.add_middleware(ServerTiming)  # added last, so it is outermost and times everything
    errors.install(app)
    for module in (signin, dashboard, calendar, compose, posts, accounts, settings):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="web-static")
