"""Every error leaves the API as {"error": {"code", "message", "details"?}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from herald.errors import AppError


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
    404: "No such account or post in this company",
    409: "Not in a state that allows this",
    413: "The upload is larger than Herald accepts",
    422: "The request is not valid; `message` says why",
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
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
    where = ".".join(loc)
    kind = err.get("type", "")
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"unknown field {where!r}"
    if kind == "missing":
        return f"{where} is required"
    if kind == "literal_error":
        return f"{where}: {msg}".replace("Input should be", "must be")
    return f"{where}: {msg}" if where else msg


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

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

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
        return _error(exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail))
