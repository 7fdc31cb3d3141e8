"""Errors on web pages are pages; the API keeps its JSON errors.

The API installs app-wide handlers for AppError and HTTPException. We wrap them: a request
that went through a web route (or a browser asking for HTML outside /api) gets a page,
everything else the API's JSON, unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from herald.errors import AppError
from herald.web.deps import SignInRequired, signin_url
from herald.web.render import page

Handler = Callable[[Request, Exception], Awaitable[Response] | Response]

TITLES = {403: "Refused", 404: "Not found", 405: "Not allowed", 409: "Not now",
          410: "No longer open", 413: "Too large", 422: "Not valid"}


def wants_page(request: Request) -> bool:
    """For errors no route raised (unknown paths): a page for browsers outside the API."""
    if getattr(request.state, "herald_web", False):
        return True
    path = request.url.path
    if path.startswith(("/api/", "/media/", "/sandbox")):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, message: str) -> Response:
    if status == 404:
        # Another company's post and a post that never existed look the same.
        message = "There is nothing here, or it belongs to another company."
    return page(request, "error.html", None, status_code=status,
                title=TITLES.get(status, "Something went wrong"), message=message,
                status=status)


async def _call(handler: Handler | None, request: Request, exc: Exception) -> Response:
    if handler is None:
        raise exc
    result = handler(request, exc)
    return await result if isinstance(result, Awaitable) else result


def install(app: FastAPI) -> None:
    api_app_error: Handler | None = app.exception_handlers.get(AppError)
    api_http_error: Handler | None = app.exception_handlers.get(HTTPException)

    async def app_error(request: Request, exc: Exception) -> Response:
        # Only the UI's own routes: the API (and the seed's aliases) keep their JSON errors.
        if not isinstance(exc, AppError) or not getattr(request.state, "herald_web", False):
            return await _call(api_app_error, request, exc)
        return error_page(request, exc.status, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException) or not wants_page(request):
            return await _call(api_http_error, request, exc)
        return error_page(request, exc.status_code, str(exc.detail))

    async def sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        target = signin_url(exc.next_url)
        if request.headers.get("hx-request"):
            # htmx would swap the sign-in page into a fragment; tell it to navigate.
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(SignInRequired, sign_in)
