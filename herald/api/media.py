"""Media uploads: stored (converted for Instagram where needed) and given a public URL."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, UploadFile

from herald.api.deps import ContextDep, HeraldDep
from herald.errors import AppError, Invalid, TooLarge
from herald.media import (
    MediaError,
    MediaStoreError,
    MediaTooLargeError,
    StoredMedia,
    human_size,
    save_async,
)
from herald.state import Herald

router = APIRouter(prefix="/media", tags=["media"])

CHUNK = 1024 * 1024


async def read_bounded(upload: UploadFile, limit: int) -> bytes:
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


async def store_upload(herald: Herald, upload: UploadFile) -> StoredMedia:
    if herald.media_store is None:
        raise AppError("No media store is configured.")
    data = await read_bounded(upload, herald.settings.media_max_upload_bytes)
    try:
        return await save_async(herald.media_store, data, filename=upload.filename)
    except MediaTooLargeError as exc:
        raise TooLarge(str(exc)) from None
    except MediaError as exc:
        raise Invalid(f"{upload.filename or 'The upload'}: {exc}") from None
    except MediaStoreError as exc:
        error = AppError(f"The media store could not save the file: {exc}")
        error.status, error.code = 502, "media_store"
        raise error from None


@router.post("", status_code=201)
async def upload_media(file: UploadFile, herald: HeraldDep, ctx: ContextDep) -> dict[str, Any]:
    """Store one file; use the returned `url` and `type` in a post's `media`."""
    stored = await store_upload(herald, file)
    return stored.as_dict()
