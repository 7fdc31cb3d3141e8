"""Media uploads: read within the size limit, stored (converted where needed), given a URL."""

from __future__ import annotations

from typing import Protocol

from herald.errors import AppError, Invalid, TooLarge
from herald.media import (
    MediaError,
    MediaStore,
    MediaStoreError,
    MediaTooLargeError,
    StoredMedia,
    human_size,
    save_async,
)

CHUNK = 1024 * 1024


class Upload(Protocol):
    """A file sent with a form (Starlette's UploadFile is one)."""

    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...


async def read_bounded(upload: Upload, limit: int) -> bytes:
    """Read an upload, refusing it as soon as it passes the limit (never all of it first)."""
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"{upload.filename or 'The upload'} is larger than the "
                           f"{human_size(limit)} Herald accepts.")
        parts.append(chunk)
    return b"".join(parts)


async def store_upload(store: MediaStore | None, upload: Upload, *,
                       max_bytes: int) -> StoredMedia:
    if store is None:
        raise AppError("No media store is configured.")
    data = await read_bounded(upload, max_bytes)
    try:
        return await save_async(store, data, filename=upload.filename)
    except MediaTooLargeError as exc:
        raise TooLarge(str(exc)) from None
    except MediaError as exc:
        raise Invalid(f"{upload.filename or 'The upload'}: {exc}") from None
    except MediaStoreError as exc:
        error = AppError(f"The media store could not save the file: {exc}")
        error.status, error.code = 502, "media_store"
        raise error from None
