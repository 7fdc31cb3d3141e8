"""The local media store served at /media/, on the web UI's own origin.

A stored file is whatever a user uploaded or a URL answered, so a browser must never run it
as a page of Herald's origin: nosniff keeps it to its declared type, and the CSP gives a
document no scripts, no requests and a sandbox (an opaque origin, without the UI's cookies),
while images and videos still show in the UI and platforms still fetch them.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

MEDIA_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


class MediaFiles(StaticFiles):
    """StaticFiles whose every answer (a file, a range of one, a 304) carries MEDIA_HEADERS.

    A missing file is raised as a 404 and answered by the app's JSON error handler, which
    serves no stored bytes."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(MEDIA_HEADERS)
            await send(message)

        await super().__call__(scope, receive, send_with_headers)
