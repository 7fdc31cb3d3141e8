"""The web UI's routers, one module per page; helpers they share."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from herald.web.deps import mark_web
from herald.web.sessions import require_csrf


def web_router() -> APIRouter:
    """A router whose errors are pages and whose unsafe requests need the CSRF token."""
    return APIRouter(dependencies=[Depends(mark_web), Depends(require_csrf)],
                     include_in_schema=False)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def see_other(url: str) -> RedirectResponse:
    """After a form POST: the browser GETs the next page (no resubmission on reload)."""
    return RedirectResponse(url, status_code=303)
