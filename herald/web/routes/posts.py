"""Posts: the list with filters, the detail page with its attempts, and what a person can
do to a post: edit or move it while pending, schedule a draft, cancel, retry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError

from herald import first_comment, services
from herald.errors import AppError, Conflict, Invalid
from herald.models import PLATFORMS, POST_STATUSES, Post, utcnow
from herald.permissions import Permission
from herald.runtime import Herald
from herald.schemas import PostPatch
from herald.services import comments, review_links
from herald.statuses import PostStatus
from herald.web import previews, queries, sessions
from herald.web.deps import ContextDep, HeraldDep, UserDep, WebUser, safe_next
from herald.web.localtime import day_bounds, local_datetime, parse_date, parse_local
from herald.web.render import PLATFORM_NAMES, page
from herald.web.routes import is_htmx, see_other, web_router

router = web_router()
PAGE_SIZE = 25
#: The status filter's shortcut for what the dashboard calls "needs a person".
ATTENTION = ("failed", "unconfirmed")


@router.get("/posts")
def posts_list(
    request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
    status: Annotated[list[str] | None, Query()] = None, platform: str = "",
    account: str = "", run_from: Annotated[str, Query(alias="from")] = "",
    run_to: Annotated[str, Query(alias="to")] = "", q: str = "", group: str = "",
    cursor: str = "", sort: str = "time",
) -> Response:
    sort = sort if sort in services.SORTS else "time"
    statuses = [s for value in status or [] for s in value.split(",") if s in POST_STATUSES]
    values = {"status": ",".join(statuses), "platform": platform, "account": account,
              "from": run_from, "to": run_to, "q": q, "group": group,
              "sort": sort if sort != "time" else ""}
    errors: dict[str, str] = {}
    filters = services.PostFilters(
        status=statuses, platform=platform if platform in PLATFORMS else None,
        account_id=account or None, group_id=group or None, search=q.strip() or None,
        sort=sort)
    try:
        if run_from:
            filters.run_from = day_bounds(parse_date(run_from, "“From”"), user.tz)[0]
        if run_to:
            filters.run_to = day_bounds(parse_date(run_to, "“To”"), user.tz)[1]
    except Invalid as exc:
        errors["dates"] = exc.message
    items: list[Post] = []
    next_cursor = None
    with herald.db.session() as session:
        accounts = queries.accounts_by_id(session, user.company_id)
        if not errors:
            try:
                items, next_cursor = services.list_posts(session, ctx, filters,
                                                         cursor=cursor or None, limit=PAGE_SIZE)
            except Invalid as exc:
                errors["cursor"] = exc.message
    kept = {k: v for k, v in values.items() if v}
    return page(request, "posts.html", user, title="Posts", active="posts", posts=items,
                accounts=accounts, values=values, errors=errors, statuses=POST_STATUSES,
                attention=",".join(ATTENTION), paged=bool(cursor),
                first_url="/posts?" + urlencode(kept),
                next_url=("/posts?" + urlencode({**kept, "cursor": next_cursor})
                          if next_cursor else None),
                here=str(request.url.path) + (f"?{request.url.query}" if request.url.query
                                               else ""),
                status_code=422 if errors else 200)


def _detail(herald: Herald, user: WebUser, ctx: services.Context, post_id: str
            ) -> dict[str, Any]:
    with herald.db.session() as session:
        found = services.post_detail(session, ctx, post_id)
        post: Post = found["post"]
        found["account"] = services.get_account(session, ctx, post.account_id)
        found["group"] = [p for p in queries.group_posts(session, user.company_id,
                                                         post.group_id) if p.id != post.id]
        found["accounts"] = queries.accounts_by_id(session, user.company_id)
        found["review_links"] = (review_links.list_links(session, ctx, post_id=post.id)
                                 if ctx.may(Permission.MANAGE_REVIEW_LINKS) else [])
        found["preview"] = previews.of_post(post, found["account"].name)
        found["comments"] = comments.thread(session, ctx, post_id)
    found["first_comment"] = first_comment.state_of(
        post.options, [a.platform_ids for a in found["attempts"]],
        retrying=post.status == PostStatus.PUBLISHED and found["next_attempt_at"] is not None)
    return found


def _edit_values(post: Post, user: WebUser) -> dict[str, str]:
    local = post.scheduled_at.astimezone(user.tz) if post.scheduled_at else None
    return {"caption": post.caption, "date": f"{local:%Y-%m-%d}" if local else "",
            "time": f"{local:%H:%M}" if local else ""}


@router.get("/posts/{post_id}")
def post_page(request: Request, post_id: str, herald: HeraldDep, user: UserDep,
              ctx: ContextDep) -> Response:
    found = _detail(herald, user, ctx, post_id)
    return page(request, "post.html", user, title="Post", active="posts",
                values=_edit_values(found["post"], user), live=_live(found["post"]), **found)


#: Seconds between refreshes of the page of a post being published.
LIVE_REFRESH = 3


def _live(post: Post) -> int | None:
    """LIVE_REFRESH while the post is in flight or due within seconds (after "Post now")."""
    due_now = (post.status == PostStatus.PENDING and post.scheduled_at is not None
               and post.scheduled_at <= utcnow() + timedelta(seconds=LIVE_REFRESH))
    return LIVE_REFRESH if post.status == PostStatus.PROCESSING or due_now else None


def _patch(**fields: Any) -> PostPatch:
    """The edit, or Invalid saying why it cannot be kept (a NUL in the caption, say)."""
    try:
        return PostPatch(**fields)
    except ValidationError as exc:
        raise Invalid("; ".join(str(e["msg"]).removeprefix("Value error, ")
                                for e in exc.errors())) from None


@router.post("/posts/{post_id}/edit")
def edit_post(request: Request, post_id: str, herald: HeraldDep, user: UserDep,
              ctx: ContextDep, caption: Annotated[str, Form()] = "",
              date: Annotated[str, Form()] = "", time: Annotated[str, Form()] = "",
              action: Annotated[str, Form()] = "save") -> Response:
    caption = caption.replace("\r\n", "\n")
    try:
        # Read first, in a transaction of its own: the edit's transaction must begin only
        # after update_post has checked the media (which may fetch it).
        with herald.db.session() as session:
            post = services.get_post(session, ctx, post_id)
            when = _new_time(post, date, time, user, ctx)
        with herald.unit_of_work() as session:
            if post.status == "draft" and action == "schedule":
                if when is None and post.scheduled_at is None:
                    raise Invalid("Give a date and a time to schedule this draft.")
                services.update_post(session, ctx, post_id, _patch(caption=caption))
                services.schedule_draft(session, ctx, post_id, when or post.scheduled_at
                                        or "now")
                message = "The draft is scheduled."
            else:
                services.update_post(session, ctx, post_id,
                                     _patch(caption=caption, run_at=when))
                message = "Saved."
    except AppError as exc:
        found = _detail(herald, user, ctx, post_id)
        return page(request, "post.html", user, title="Post", active="posts",
                    status_code=exc.status, errors={"edit": exc.message},
                    values={"caption": caption, "date": date, "time": time}, **found)
    sessions.flash(request, message)
    return see_other(f"/posts/{post_id}")


def _new_time(post: Post, day: str, at: str, user: WebUser, ctx: services.Context
              ) -> datetime | None:
    """The typed time when it differs from the post's (to the minute); else None."""
    if not day and not at and post.status == "draft":
        return None
    when = parse_local(day, at, user.tz)
    if post.scheduled_at is not None and abs(when - post.scheduled_at) < timedelta(minutes=1):
        return None  # unchanged: a caption edit must not trip "in the past" a minute late
    if when < ctx.now() - services.PAST_TOLERANCE:
        raise Invalid(f"{day} {at} has passed in {user.tz.key}; pick a later time.")
    return when


@router.post("/posts/{post_id}/move")
def move_post(post_id: str, herald: HeraldDep, user: UserDep, ctx: ContextDep,
              date: Annotated[str, Form()] = "") -> Response:
    """The calendar's drag and drop: the same time of day on another day."""
    try:
        with herald.db.session() as session:
            post = services.get_post(session, ctx, post_id)
        if post.scheduled_at is None:
            raise Invalid("This post has no time yet; open it to schedule it.")
        local = post.scheduled_at.astimezone(user.tz)
        when = local_datetime(parse_date(date), local.time(), user.tz)
        if when < ctx.now():
            raise Invalid(f"{date} {local:%H:%M} has passed; pick a later day.")
        with herald.unit_of_work() as session:
            services.update_post(session, ctx, post_id, PostPatch(run_at=when))
    except AppError as exc:
        return PlainTextResponse(exc.message, status_code=exc.status)
    return PlainTextResponse(f"Moved to {when:%a %-d %b, %H:%M}.")


def _row_or_back(request: Request, herald: Herald, user: WebUser, ctx: services.Context,
                 post_id: str, next_url: str, message: str, error: str | None) -> Response:
    if is_htmx(request):
        with herald.db.session() as session:
            post = services.get_post(session, ctx, post_id)
            accounts = queries.accounts_by_id(session, user.company_id)
        return page(request, "_post_row.html", user, post=post, accounts=accounts,
                    row_message=error or message, row_error=bool(error), here=next_url,
                    status_code=409 if error else 200)
    sessions.flash(request, error or message, "error" if error else "ok")
    return see_other(safe_next(next_url))


@router.post("/posts/{post_id}/cancel")
def cancel_post(request: Request, post_id: str, herald: HeraldDep, user: UserDep,
                ctx: ContextDep, next: Annotated[str, Form()] = "") -> Response:
    error = None
    try:
        with herald.unit_of_work() as session:
            services.cancel_post(session, ctx, post_id)
    except AppError as exc:
        if exc.status == 404:
            raise
        error = exc.message
    return _row_or_back(request, herald, user, ctx, post_id, next or f"/posts/{post_id}",
                        "Cancelled.", error)


@router.post("/posts/{post_id}/retry")
def retry_post(request: Request, post_id: str, herald: HeraldDep, user: UserDep,
               ctx: ContextDep, next: Annotated[str, Form()] = "",
               force: Annotated[str, Form()] = "") -> Response:
    error = None
    try:
        with herald.unit_of_work() as session:
            post = services.get_post(session, ctx, post_id)
            if post.status == "unconfirmed" and force != "yes":
                where = PLATFORM_NAMES.get(post.platform, post.platform)
                raise Conflict("Herald cannot tell whether this post went out. Look for it on "
                               f"{where} first; if it is not there, tick “it is not there” "
                               "and retry.")
            services.retry_post(session, ctx, post_id, force=force == "yes")
    except AppError as exc:
        if exc.status == 404:
            raise
        error = exc.message
    return _row_or_back(request, herald, user, ctx, post_id, next or f"/posts/{post_id}",
                        "Back in the queue.", error)


@router.post("/posts/{post_id}/first-comment/retry")
def retry_first_comment(request: Request, post_id: str, herald: HeraldDep, user: UserDep,
                        ctx: ContextDep, next: Annotated[str, Form()] = "") -> Response:
    error = None
    try:
        with herald.unit_of_work() as session:
            services.retry_first_comment(session, ctx, post_id)
    except AppError as exc:
        if exc.status == 404:
            raise
        error = exc.message
    sessions.flash(request, error or "The first comment is queued again; the post stays "
                   "published.", "error" if error else "ok")
    return see_other(safe_next(next or f"/posts/{post_id}"))
