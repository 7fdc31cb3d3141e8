"""The seed design's endpoints, kept as thin aliases of the v1 API."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, UploadFile
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from herald import services
from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.errors import Invalid
from herald.schemas import Platform, PostCreate, PostOut, PostPage

router = APIRouter(tags=["seed aliases"], responses=documented(401, 403, 422))


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


@router.post("/schedule-post", status_code=201, responses=documented(400, 404, 413))
async def schedule_post(
    herald: HeraldDep,
    ctx: ContextDep,
    run_at: Annotated[str, Form()],
    account_id: Annotated[list[str] | None, Form()] = None,
    account_ids: Annotated[list[str] | None, Form()] = None,
    caption: Annotated[str, Form()] = "",
    post_type: Annotated[str, Form()] = "feed",
    media_urls: Annotated[str | None, Form(description="JSON list of {url, type}")] = None,
    files: Annotated[list[UploadFile] | None, Form()] = None,
) -> dict[str, Any]:
    """Multipart form + files, as the seed's Angular front end sent them."""
    targets = _split(account_id) + _split(account_ids)
    shape = "media_urls must be a JSON list like [{\"url\": \"https://…\"}]"
    try:
        media = json.loads(media_urls) if media_urls else []
    except (json.JSONDecodeError, RecursionError):  # RecursionError: nested thousands deep
        raise Invalid(shape) from None
    if not isinstance(media, list):
        raise Invalid(shape)
    for upload in files or []:
        stored = await services.store_upload(
            herald.media_store, upload, max_bytes=herald.settings.media_max_upload_bytes,
            ctx=ctx)
        media.append({"url": stored.url, "type": stored.type})
    try:
        data = PostCreate(account_ids=targets or None, post_type=post_type,
                          caption=caption, media=media, run_at=run_at)
    except ValidationError as exc:
        details = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}".removeprefix(": ")
                   .replace("Value error, ", "") for e in exc.errors()]
        raise Invalid(details[0] if len(details) == 1 else "; ".join(details),
                      details=details) from None

    def create() -> list[PostOut]:
        with herald.unit_of_work() as session:
            posts = services.create_posts(session, ctx, data)
            return [PostOut.model_validate(p) for p in posts]

    posts = await run_in_threadpool(create)
    return {"success": True, "postDetailId": posts[0].id,
            "postDetailIds": [p.id for p in posts], "groupId": posts[0].group_id,
            "scheduledFor": posts[0].run_at, "posts": posts}


@router.get("/scheduled-posts")
async def scheduled_posts(
    herald: HeraldDep,
    ctx: ContextDep,
    status: Annotated[list[str] | None, Query()] = None,
    account_id: str | None = None,
    platform: Platform | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PostPage:
    """Scheduled (pending) posts unless `status` says otherwise."""
    filters = services.PostFilters(status=services.status_filter(status or ["pending"]),
                                   account_id=account_id, platform=platform)

    def page() -> PostPage:
        with herald.db.session() as session:
            return services.post_page(session, ctx, filters, cursor=cursor, limit=limit)

    return await run_in_threadpool(page)


@router.delete("/scheduled-posts/{post_id}", responses=documented(404, 409))
def cancel_scheduled_post(post_id: str, herald: HeraldDep, ctx: ContextDep) -> dict[str, Any]:
    with herald.unit_of_work() as session:
        post = PostOut.model_validate(services.cancel_post(session, ctx, post_id))
    return {"success": True, "post": post}
