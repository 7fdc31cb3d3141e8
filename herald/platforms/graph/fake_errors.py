"""Graph API errors in Meta's envelope, and the catalogue of the ones the fake sends.

Meta omits `error_subcode`, `error_user_title` and `error_user_msg` when an error has none;
so does the fake, so clients learn to cope with their absence.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from herald.platforms.fake.models import utc


class GraphError(Exception):
    """A Graph API error response."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        status: int = 400,
        transient: bool = False,
        user_title: str | None = None,
        user_msg: str | None = None,
        type: str = "OAuthException",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode
        self.status = status
        self.transient = transient
        self.user_title = user_title
        self.user_msg = user_msg
        self.type = type

    @property
    def label(self) -> str:
        return f"{self.code}/{self.subcode}" if self.subcode else str(self.code)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["is_transient"] = self.transient
        if self.user_title is not None:
            error["error_user_title"] = self.user_title
        if self.user_msg is not None:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = secrets.token_urlsafe(16)
        return {"error": error}


# --- tokens and permissions ------------------------------------------------------------


def missing_token() -> GraphError:
    return GraphError(104, "An access token is required to request this resource.")


def invalid_token() -> GraphError:
    return GraphError(190, "Invalid OAuth access token - Cannot parse access token", subcode=467)


def _day(ts: float) -> str:
    return datetime.strftime(utc(ts), "%A, %d-%b-%y %H:%M:%S UTC")


def expired_token(expired_at: float, now: float) -> GraphError:
    return GraphError(
        190,
        f"Error validating access token: Session has expired on {_day(expired_at)}. "
        f"The current time is {_day(now)}.",
        subcode=463,
    )


_REVOKED = {
    458: "Error validating access token: The user has not authorized application.",
    459: "Error validating access token: You cannot access the app till you log in to "
         "www.facebook.com and follow the instructions given.",
    460: "Error validating access token: The session has been invalidated because the user "
         "changed their password or Facebook has changed the session for security reasons.",
    464: "Error validating access token: Sessions for the user are not allowed because the "
         "user is not a confirmed user.",
    467: "Error validating access token: The session is invalid because the user logged out.",
    492: "Error validating access token: The user does not have a role on this Page.",
}


def revoked_token(subcode: int) -> GraphError:
    message = _REVOKED.get(subcode, "Error validating access token: The session is invalid.")
    return GraphError(190, message, subcode=subcode)


def permission_denied(code: int, what: str) -> GraphError:
    return GraphError(code, f"(#{code}) {what}")


def unsupported(method: str, object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation. "
        "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        type="GraphMethodException",
    )


def unknown_path(path: str) -> GraphError:
    return GraphError(2500, f"Unknown path components: {path}")


def invalid_param(message: str, *, subcode: int | None = None) -> GraphError:
    return GraphError(100, f"(#100) {message}", subcode=subcode)


# --- transient and throttling ----------------------------------------------------------


def server_error(code: int = 2, status: int | None = None) -> GraphError:
    if code == 1:
        return GraphError(1, "An unknown error occurred", status=status or 500, transient=True)
    return GraphError(
        code, "An unexpected error has occurred. Please retry your request later.",
        status=status or 503, transient=True,
    )


#: Meta's Video API upload errors (its error-codes reference), each one it says to retry.
VIDEO_UPLOAD = {
    6000: "There was a problem uploading your video file. Please try again with another file.",
    1363019: "There was a problem uploading your video. Please try uploading it again.",
    1363030: "Video Upload Timeout. Your video upload timed out before it could be completed. "
             "This is probably because of a slow network connection or because the video "
             "is too large. Please try again.",
    1363037: "There was a problem uploading your video. Please try uploading it again.",
}


def video_upload_failed(subcode: int | None = None) -> GraphError:
    """A /videos upload Meta failed on its side (code 390); nothing was published."""
    sub = subcode if subcode in VIDEO_UPLOAD else 1363030
    return GraphError(390, VIDEO_UPLOAD[sub], subcode=sub, status=400)


_THROTTLES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: "(#80001) There have been too many calls to this Page account. "
           "Wait a bit and try again.",
    80002: "(#80002) There have been too many calls to this Instagram account. "
           "Wait a bit and try again.",
}


def throttled(code: int, *, subcode: int | None = None, status: int | None = None) -> GraphError:
    message = _THROTTLES.get(code, f"(#{code}) Rate limit reached")
    return GraphError(code, message, subcode=subcode, status=status or 400, transient=True)


# --- Instagram content publishing (the [IG-ERR] table) ---------------------------------

_IG: dict[tuple[int, int], tuple[str, str, str]] = {
    (9004, 2207052): (
        "Only photo or video can be accepted as media type.",
        "Media download has failed.",
        "The media could not be fetched from this uri: {url}",
    ),
    (36000, 2207004): (
        "The image size is too large.",
        "Image size too large",
        "The image is too large to download. It should be less than 8 MiB.",
    ),
    (36001, 2207005): (
        "The image format is not supported.",
        "Unsupported format",
        "The image format is not supported. Supported formats are: JPEG",
    ),
    (36003, 2207009): (
        "The submitted image with aspect ratio ('{ratio}') cannot be published. "
        "Please submit an image with a valid aspect ratio.",
        "Aspect ratio not supported",
        "The aspect ratio is not supported. It should be between 4:5 and 1.91:1.",
    ),
    (36004, 2207010): (
        "The caption is too long.",
        "Caption too long",
        "The caption you entered is too long. It should be 2,200 characters or fewer.",
    ),
    (9007, 2207027): (
        "Media ID is not available",
        "Media not ready for publishing",
        "The media is not ready for publishing, please wait for a moment",
    ),
    (9, 2207042): (
        "Application request limit reached",
        "Maximum number of posts reached",
        "You reached the maximum number of posts that is allowed to be published by "
        "Content Publishing API in 24 hours.",
    ),
    (24, 2207006): (
        "The media with id {id} cannot be found.",
        "Media not found",
        "The media with id {id} cannot be found.",
    ),
    (24, 2207008): (
        "The media container does not exist or has expired.",
        "Media builder expired",
        "The media builder with creation id {id} does not exist or has expired. "
        "Please create a new one.",
    ),
    (100, 2207023): (
        "The media type {media_type} is not supported.",
        "Unknown media type",
        "The media type {media_type} is not supported.",
    ),
    (100, 2207028): (
        "Carousel validation failed.",
        "Carousel validation failed",
        "{detail}",
    ),
    (100, 2207040): (
        "Cannot use more than 20 tags.",
        "Too many tags",
        "You can tag at most 20 accounts in a post.",
    ),
}


def instagram(code: int, subcode: int, **details: Any) -> GraphError:
    """One row of the Instagram error table, with {placeholders} filled from `details`."""
    message, title, user_msg = _IG[(code, subcode)]
    return GraphError(
        code,
        message.format(**details),
        subcode=subcode,
        user_title=title,
        user_msg=user_msg.format(**details),
    )
