"""Compose: accounts, caption (with per-account overrides), media, time; checked live.

Works without JavaScript (a plain multipart form whose files are stored on submit); with
it, files are uploaded as they are dropped and the checks run as the user types.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from herald import services
from herald.errors import AppError
from herald.models import POST_TYPES, SocialAccount
from herald.platforms.registry import COMPOSE_LIMITS, compose_limits_for
from herald.runtime import Herald
from herald.services import Context
from herald.statuses import PostStatus
from herald.web import previews, queries, sessions
from herald.web.composing import ComposeForm, Outcome, check, create, default_when
from herald.web.deps import ContextDep, HeraldDep, UserDep, WebUser
from herald.web.localtime import fmt
from herald.web.previews import Preview
from herald.web.render import page
from herald.web.routes import see_other, web_router

router = web_router()

#: What the live counters check in the browser; the server's checks are the same rules.
LIMITS = COMPOSE_LIMITS


def _accounts(herald: Herald, user: WebUser) -> dict[str, SocialAccount]:
    with herald.db.session() as session:
        return queries.accounts_by_id(session, user.company_id)


def _form_page(request: Request, user: WebUser, accounts: dict[str, SocialAccount],
               form: ComposeForm, outcome: Outcome | None = None, status_code: int = 200
               ) -> Response:
    return page(request, "compose.html", user, title="Compose", active="compose",
                accounts=accounts, form=form, outcome=outcome or Outcome(),
                post_types=POST_TYPES, limits=_limits(accounts),
                previews=_previews(accounts, form), status_code=status_code)


def _server(account: SocialAccount) -> str | None:
    return None if account.sandbox else account.server_url


def _limits(accounts: dict[str, SocialAccount]) -> dict[str, dict[str, int]]:
    """The counters' limits per platform: where servers set their own (Mastodon
    instances), the strictest of the company's accounts' servers."""
    out = {platform: dict(limits) for platform, limits in LIMITS.items()}
    own: dict[str, dict[str, int]] = {}
    for account in accounts.values():
        server = _server(account)
        if server is None or account.platform not in out:
            continue
        found = compose_limits_for(account.platform, server)
        mine = own.setdefault(account.platform, dict(found))
        for key, value in found.items():
            mine[key] = min(mine.get(key, value), value)
    return {**out, **own}


def _previews(accounts: dict[str, SocialAccount], form: ComposeForm) -> list[Preview]:
    """The post on each picked account, as its platform will show it."""
    return [previews.preview(accounts[a].platform, account_name=accounts[a].name,
                             post_type=form.post_type, caption=form.caption_for(a),
                             media=form.media, options=form.options,
                             server_url=_server(accounts[a]))
            for a in form.account_ids if a in accounts]


@router.get("/compose")
def compose(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
            date: str = "", account: str = "") -> Response:
    day, at = default_when(ctx.now(), user.tz)
    accounts = _accounts(herald, user)
    form = ComposeForm(date=date or day, time=at,
                       account_ids=[account] if account in accounts else [])
    outcome = _check(herald, accounts, form, user, ctx) if form.account_ids else None
    return _form_page(request, user, accounts, form, outcome)


async def _read(request: Request, herald: Herald, ctx: Context
                ) -> tuple[ComposeForm, FormData, list[str]]:
    data = await request.form()
    lists = {"account_ids": data.getlist("account_ids"), "media": data.getlist("media")}
    form = ComposeForm.parse(data, lists)
    problems = []
    # Without JavaScript, files arrive with the form; store them and keep them as media.
    for upload in data.getlist("files"):
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        try:
            stored = await services.store_upload(
                herald.media_store, upload, max_bytes=herald.settings.media_max_upload_bytes,
                ctx=ctx)
        except AppError as exc:
            problems.append(exc.message)
            continue
        form.media.append({"url": stored.url, "type": stored.type})
    return form, data, problems


@router.post("/compose")
async def compose_submit(request: Request, herald: HeraldDep, user: UserDep,
                         ctx: ContextDep) -> Response:
    form, _, upload_problems = await _read(request, herald, ctx)
    accounts = await run_in_threadpool(_accounts, herald, user)
    if upload_problems:
        outcome = Outcome(errors={"media": " ".join(upload_problems)})
    else:
        outcome = await run_in_threadpool(create, herald, ctx, accounts, form, user.tz)
    if not outcome.ok:
        return _form_page(request, user, accounts, form, outcome, status_code=422)
    sessions.flash(request, _done(outcome, form, user))
    return see_other(_after(outcome, form, user))


def _done(outcome: Outcome, form: ComposeForm, user: WebUser) -> str:
    count = len(outcome.posts)
    posts = f"{count} post{'s' if count != 1 else ''}"
    if form.action == "draft":
        return f"Saved {posts} as drafts."
    if any(p.status == PostStatus.AWAITING_APPROVAL for p in outcome.posts):
        return f"Sent {posts} for approval: an approver will schedule them."
    if form.action == "now":
        return f"Publishing {posts} now."
    if form.action == "queue":
        first = min((p.scheduled_at for p in outcome.posts if p.scheduled_at), default=None)
        return f"Added {posts} to the queue (next: {fmt(first, user.tz)})."
    return f"Scheduled {posts} for {fmt(outcome.run_at, user.tz)}."


def _after(outcome: Outcome, form: ComposeForm, user: WebUser) -> str:
    if form.action == "draft":
        return "/posts?status=draft"
    if len(outcome.posts) == 1:
        return f"/posts/{outcome.posts[0].id}"
    first = outcome.run_at or min((p.scheduled_at for p in outcome.posts if p.scheduled_at),
                                  default=None)
    when = first.astimezone(user.tz) if first else None
    return f"/calendar?view=week&date={when:%Y-%m-%d}" if when else "/calendar"


@router.post("/compose/check")
async def compose_check(request: Request, herald: HeraldDep, user: UserDep,
                        ctx: ContextDep) -> Response:
    """The API's checks on the form as it stands, as a fragment (htmx swaps it in)."""
    data = await request.form()
    form = ComposeForm.parse(data, {"account_ids": data.getlist("account_ids"),
                                    "media": data.getlist("media")})
    accounts = await run_in_threadpool(_accounts, herald, user)
    outcome = await run_in_threadpool(_check, herald, accounts, form, user, ctx)
    return page(request, "_checks.html", user, accounts=accounts, form=form, outcome=outcome)


@router.post("/compose/preview")
async def compose_preview(request: Request, herald: HeraldDep, user: UserDep) -> Response:
    """The previews of the form as it stands, as a fragment (htmx swaps it in as one types)."""
    data = await request.form()
    form = ComposeForm.parse(data, {"account_ids": data.getlist("account_ids"),
                                    "media": data.getlist("media")})
    accounts = await run_in_threadpool(_accounts, herald, user)
    return page(request, "_previews.html", user, previews=_previews(accounts, form))


def _check(herald: Herald, accounts: dict[str, SocialAccount], form: ComposeForm,
           user: WebUser, ctx: Context) -> Outcome:
    # A time that passes while the user types is flagged on submit, with a clear message;
    # flagging it on every keystroke of the caption would only be noise.
    return check(herald, accounts, form, user.tz, ctx.now() - timedelta(minutes=1))


@router.post("/compose/media")
async def upload_media(request: Request, herald: HeraldDep, user: UserDep,
                       ctx: ContextDep) -> Response:
    """One dropped or chosen file: stored, answered with its preview and hidden input."""
    data = await request.form()
    upload = data.get("file")
    context: dict[str, Any] = {"item": None, "error": None}
    if not isinstance(upload, UploadFile):
        context["error"] = "No file was sent."
    else:
        try:
            stored = await services.store_upload(
                herald.media_store, upload, max_bytes=herald.settings.media_max_upload_bytes,
                ctx=ctx)
            context["item"] = {"url": stored.url, "type": stored.type,
                               "name": upload.filename or stored.key}
        except AppError as exc:
            context["error"] = exc.message
    return page(request, "_media_item.html", user, status_code=422 if context["error"] else 201,
                **context)
