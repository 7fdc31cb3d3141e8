"""Every error leaves the API as {"error": {"code", "message", "details"?}}."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from herald.errors import AppError

log = logging.getLogger(__name__)
#: MariaDB and MySQL name the column a value is too long for.
_TOO_LONG = re.compile(r"Data too long for column '(\w+)'")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[Any] | None = None


class ErrorOut(BaseModel):
    """The envelope every error of the API comes in."""

    error: ErrorBody


_MEANINGS = {
    400: "The body is not valid JSON (or not a readable form)",
    401: "No valid API token: send `Authorization: Bearer <token>`",
    403: "Your role lacks a permission; `message` names it",
    404: "No such account or post in this company",
    409: "Not in a state that allows this",
    413: "The body is larger than Herald accepts (HERALD_MAX_JSON_BYTES, uploads "
         "HERALD_MEDIA_MAX_UPLOAD_BYTES)",
    422: "The request is not valid; `message` says why",
    429: "Too many of your company's media downloads at once; see Retry-After",
    503: "Herald is busy (media downloads) or its database is unreachable; see Retry-After",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the error statuses a route answers, in the error envelope."""
    return {status: {"model": ErrorOut, "description": _MEANINGS[status]}
            for status in statuses}


def _error(status: int, code: str, message: str, details: list[Any] | None = None
           ) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


def _describe(err: dict[str, Any]) -> str:
    # Only the leading part says where (a body field may itself be called "body").
    loc = [str(p) for p in err.get("loc", ())]
    loc = loc[1:] if loc and loc[0] in ("body", "query", "path", "form") else loc
    where = ".".join(loc)
    kind = err.get("type", "")
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"unknown field {where!r}"
    if kind == "missing":
        return f"{where} is required"
    if kind == "literal_error":
        return f"{where}: {msg}".replace("Input should be", "must be")
    # Herald's own validators name the field ("run_at 'x' has no timezone"): say it once.
    named = bool(loc) and msg.startswith((loc[-1], loc[-1].replace("_", " ")))
    return f"{where}: {msg}" if where and not named else msg


def unstorable(exc: DataError) -> str:
    """What to tell a person whose value the database refused (rolled back, nothing kept)."""
    found = _TOO_LONG.search(str(exc.orig))
    if found:
        field = found.group(1).removesuffix("_enc")  # tokens are stored encrypted
        return (f"{field} is too long to store: this database (MariaDB or MySQL) keeps at "
                "most 65,535 bytes of it; shorten it")
    return "A value in the request cannot be stored by the database; check it and try again"


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        for err in errors:
            if err.get("type") == "json_invalid":
                ctx = err.get("ctx") or {}
                reason = ctx.get("error", "")
                return _error(400, "invalid_json",
                              f"The request body is not valid JSON: {reason}".rstrip(": "))
        details = [_describe(e) for e in errors]
        message = details[0] if len(details) == 1 else f"{len(details)} problems: " + "; ".join(
            details)
        return _error(422, "invalid", message, details)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> Response:
        # The checks before the database are engine-neutral; what one engine alone
        # refuses (MariaDB's 64 KiB TEXT) is still the request's fault, not a 500.
        log.warning("the database refused a value: %s", str(exc.orig).splitlines()[0])
        message = unstorable(exc)
        if request.url.path.startswith("/api/"):
            return _error(422, "invalid", message)
        return PlainTextResponse(message, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
        return _error(exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail))
