"""Media uploads: read within the size limit, stored (converted where needed), given a URL."""

from __future__ import annotations

import tempfile
from typing import IO, Protocol

from herald.errors import AppError, Invalid, TooLarge
from herald.media import (
    MediaError,
    MediaStore,
    MediaStoreError,
    MediaTooLargeError,
    StoredMedia,
    human_size,
    save_file_async,
)
from herald.permissions import Permission
from herald.services.context import Context

CHUNK = 1024 * 1024
#: An upload up to this size is spooled in memory; a larger one goes to a temporary file.
SPOOL_IN_MEMORY = 1024 * 1024


class Upload(Protocol):
    """A file sent with a form (Starlette's UploadFile is one)."""

    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...


async def spool_bounded(upload: Upload, limit: int) -> IO[bytes]:
    """An upload copied into a temporary file, refused as soon as it passes the limit.

    Spooled: a small upload stays in memory, a large one goes to disk a chunk at a time,
    so memory holds a chunk, never the upload (nor chunks plus a joined copy).
    """
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        size = 0
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"{upload.filename or 'The upload'} is larger than the "
                               f"{human_size(limit)} Herald accepts.")
            spool.write(chunk)
    except BaseException:
        spool.close()  # a temporary file: closing removes it
        raise
    spool.seek(0)
    return spool


async def store_upload(store: MediaStore | None, upload: Upload, *,
                       max_bytes: int, ctx: Context) -> StoredMedia:
    """Store an uploaded file for a post (the caller's role must write posts)."""
    ctx.require(Permission.CREATE_POSTS)
    if store is None:
        raise AppError("No media store is configured.")
    try:
        with await spool_bounded(upload, max_bytes) as spool:
            return await save_file_async(store, spool, filename=upload.filename)
    except MediaTooLargeError as exc:
        raise TooLarge(str(exc)) from None
    except MediaError as exc:
        said = str(exc)
        # Most media errors name the file already ("'photo.gif' is not …"): once is enough.
        named = upload.filename and upload.filename in said
        raise Invalid(said if named else f"{upload.filename or 'The upload'}: {said}") from None
    except MediaStoreError as exc:
        error = AppError(f"The media store could not save the file: {exc}")
        error.status, error.code = 502, "media_store"
        raise error from None
