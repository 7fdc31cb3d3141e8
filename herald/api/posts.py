"""Posts: create for one or many accounts, list, read with attempts, edit, cancel, retry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from herald import services
from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.errors import Invalid
from herald.schemas import (
    Platform,
    PostCreate,
    PostDetail,
    PostOut,
    PostPage,
    PostPatch,
    parse_run_at,
)

router = APIRouter(prefix="/posts", tags=["posts"], responses=documented(401, 403, 422))


class PostsCreated(BaseModel):
    group_id: str
    items: list[PostOut]
    #: A recurring create: its series (GET /api/v1/series/{id}); the items are its
    #: occurrences within HERALD_SERIES_WINDOW_DAYS.
    series_id: str | None = None


class ScheduleDraft(BaseModel):
    run_at: str


# The two hot routes are async with their database work in one thread-pool call: a sync
# route takes a thread hop for the route and another for validating its response.
@router.post("", status_code=201, responses=documented(400, 404, 413))
async def create_posts(data: PostCreate, herald: HeraldDep, ctx: ContextDep) -> PostsCreated:
    if data.evergreen is not None:
        raise Invalid("an evergreen post goes into the library with POST /api/v1/series; "
                      "it refills empty slots later")

    def create() -> PostsCreated:
        with herald.unit_of_work() as session:
            posts = services.create_posts(session, ctx, data)
            return PostsCreated(group_id=posts[0].group_id, series_id=posts[0].series_id,
                                items=[PostOut.model_validate(p) for p in posts])

    return await run_in_threadpool(create)


def _time(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None  # `from=` as a form sends it when left empty: no bound
    try:
        parsed = parse_run_at(value)
    except ValueError as exc:
        raise Invalid(str(exc).replace("run_at", name)) from None
    if not isinstance(parsed, datetime):
        raise Invalid(f"{name} must be a time, not {value!r}")
    return parsed


@router.get("")
async def list_posts(
    herald: HeraldDep,
    ctx: ContextDep,
    status: Annotated[list[str] | None, Query()] = None,
    account_id: str | None = None,
    # An enum in the schema: an unknown platform is a 422, never an empty list.
    platform: Platform | None = None,
    group_id: str | None = None,
    run_from: Annotated[str | None, Query(alias="from")] = None,
    run_to: Annotated[str | None, Query(alias="to")] = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    sort: Annotated[Literal["created", "time"], Query(
        description="created: newest made first (the default); time: latest scheduled "
                    "time first (a draft by when it was made)")] = "created",
) -> PostPage:
    filters = services.PostFilters(
        status=services.status_filter(status), account_id=account_id, platform=platform,
        group_id=group_id, run_from=_time(run_from, "from"), run_to=_time(run_to, "to"), search=q,
        sort=sort,
    )

    def page() -> PostPage:
        with herald.db.session() as session:
            return services.post_page(session, ctx, filters, cursor=cursor, limit=limit)

    return await run_in_threadpool(page)


@router.get("/{post_id}", responses=documented(404))
def get_post(post_id: str, herald: HeraldDep, ctx: ContextDep) -> PostDetail:
    with herald.db.session() as session:
        return services.post_detail_out(session, ctx, post_id)


@router.patch("/{post_id}", responses=documented(400, 404, 409, 413))
def update_post(post_id: str, patch: PostPatch, herald: HeraldDep, ctx: ContextDep) -> PostOut:
    with herald.unit_of_work() as session:
        return PostOut.model_validate(services.update_post(session, ctx, post_id, patch))


@router.post("/{post_id}/schedule", responses=documented(400, 404, 409, 413))
def schedule_draft(post_id: str, body: ScheduleDraft, herald: HeraldDep,
                   ctx: ContextDep) -> PostOut:
    run_at: datetime | str
    if body.run_at.strip().lower() == "next_slot":
        run_at = "next_slot"  # the account's next free slot, as on create
    else:
        try:
            run_at = parse_run_at(body.run_at)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
    with herald.unit_of_work() as session:
        return PostOut.model_validate(services.schedule_draft(session, ctx, post_id, run_at))


@router.delete("/{post_id}", responses={
    202: {"description": "Cancel requested while the post is being published"},
    **documented(404, 409)})
def cancel_post(post_id: str, herald: HeraldDep, ctx: ContextDep,
                response: Response) -> PostOut:
    """Cancel; 202 when a worker holds the post (it stops before posting, if it can)."""
    with herald.unit_of_work() as session:
        post = PostOut.model_validate(services.cancel_post(session, ctx, post_id))
    if post.status != "cancelled":
        response.status_code = 202
    return post


@router.post("/{post_id}/first-comment/retry", responses=documented(404, 409))
def retry_first_comment(post_id: str, herald: HeraldDep, ctx: ContextDep) -> PostOut:
    """Post a failed first comment again; the post stays published. Reconciles first:
    a comment that went out after all is found, never posted twice."""
    with herald.unit_of_work() as session:
        return PostOut.model_validate(services.retry_first_comment(session, ctx, post_id))


@router.post("/{post_id}/retry", responses=documented(404, 409, 413))
def retry_post(post_id: str, herald: HeraldDep, ctx: ContextDep, force: bool = False) -> PostOut:
    with herald.unit_of_work() as session:
        return PostOut.model_validate(services.retry_post(session, ctx, post_id, force=force))
