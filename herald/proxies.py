"""Which peers may say who the client is: HERALD_TRUSTED_PROXIES.

The client address counts failed sign-ins (herald/web/throttle.py), so a client must not
choose it. uvicorn's own proxy handling is switched off (`UVICORN_OPTIONS`): by default it
believes X-Forwarded-For from 127.0.0.1, or from whatever FORWARDED_ALLOW_IPS names, which
Herald's settings do not show. With no trusted proxies (the default) the address is the
peer's; with some, uvicorn's ProxyHeadersMiddleware reads X-Forwarded-For (and
X-Forwarded-Proto) only from those peers and takes the right-most hop that is not one of
them, the first address no trusted proxy vouches for.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from herald.config import Settings

#: Keyword arguments for every uvicorn server Herald starts.
UVICORN_OPTIONS: dict[str, Any] = {"proxy_headers": False}


def install(app: FastAPI, settings: Settings) -> None:
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
