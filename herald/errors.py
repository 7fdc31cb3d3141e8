"""Errors the services raise; the API turns each into JSON with a stable shape."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """The request cannot be served."""

    status = 400
    code = "bad_request"
    #: Seconds to wait before trying again (answered in Retry-After), if it is worth it.
    retry_after: int | None = None

    def __init__(self, message: str | None = None, *, details: list[Any] | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.details = details or []
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class Unauthorized(AppError):
    """A valid API token is required: send `Authorization: Bearer <token>`."""

    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    """Your role does not allow this."""

    status = 403
    code = "forbidden"

    def __init__(self, message: str | None = None, *, permission: str | None = None) -> None:
        super().__init__(message)
        #: The permission that is missing (also in the body's details).
        self.permission = permission
        if permission:
            self.details = [{"permission": permission}]


class NotFound(AppError):
    """Not found."""

    status = 404
    code = "not_found"


class Conflict(AppError):
    """The resource is not in a state that allows this."""

    status = 409
    code = "conflict"


class Gone(AppError):
    """It existed, and is over (an expired or revoked link)."""

    status = 410
    code = "gone"


class Invalid(AppError):
    """The request is not valid."""

    status = 422
    code = "invalid"


class TooLarge(AppError):
    """The upload is larger than Herald accepts."""

    status = 413
    code = "too_large"
