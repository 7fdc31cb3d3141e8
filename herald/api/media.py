"""Media uploads: stored (converted for Instagram where needed) and given a public URL."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, UploadFile

from herald import services
from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented

router = APIRouter(prefix="/media", tags=["media"], responses=documented(401, 403, 422))


@router.post("", status_code=201, responses=documented(400, 413))
async def upload_media(file: UploadFile, herald: HeraldDep, ctx: ContextDep) -> dict[str, Any]:
    """Store one file; use the returned `url` and `type` in a post's `media`."""
    stored = await services.store_upload(herald.media_store, file, ctx=ctx,
                                         max_bytes=herald.settings.media_max_upload_bytes)
    return stored.as_dict()
