"""Client review links: the page a client opens without an account (/review/<secret>) and
its approve and reject forms; the team's buttons that make and revoke links.

The client's forms carry the session's CSRF token like every form (an anonymous session
has one too); the secret in the path decides what the client may see and act on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from herald.errors import AppError, Conflict, Invalid
from herald.models import ReviewLink, SocialAccount, utcnow
from herald.runtime import Herald
from herald.services import Context, review_links
from herald.services.posts import get_post
from herald.web import previews, queries, sessions
from herald.web.deps import ContextDep, HeraldDep, UserDep
from herald.web.localtime import parse_local
from herald.web.render import page
from herald.web.routes import see_other, web_router

router = web_router()
#: The session key that remembers the name a client typed, for the next form.
NAME_KEY = "review_name"
DONE = {"approve": "Approved: thank you.", "reject": "Sent back to the team with your reason.",
        "comment": "Comment added: the team sees it on the post."}


def _seen_key(link: ReviewLink) -> str:
    return f"review_seen:{link.id}"


def _rows(session: Session, ctx: Context, link: ReviewLink) -> list[dict[str, object]]:
    accounts: dict[str, SocialAccount] = queries.accounts_by_id(session, link.company_id)
    rows = []
    for post in review_links.posts(session, link):
        account = accounts.get(post.account_id)
        name = account.name if account else "(removed account)"
        rows.append({"post": post, "preview": previews.of_post(post, name),
                     "comments": review_links.thread(session, ctx, link, post.id),
                     "team_first": review_links.waits_for_team(session, link, post)})
    return rows


@router.get("/review/{token}")
def review_page(request: Request, token: str, herald: HeraldDep) -> Response:
    with herald.unit_of_work() as session:
        link = review_links.open_link(session, token, now=utcnow())
        # One "opened" entry per visit (browser session), not one per page load.
        ctx = review_links.acting(herald.context(link.company_id), link)
        if not request.session.get(_seen_key(link)):
            review_links.record_open(session, ctx, link)
            request.session[_seen_key(link)] = True
        rows = _rows(session, ctx, link)
        expires_at = link.expires_at
    response = page(request, "review.html", None, title="Review", rows=rows, token=token,
                    name=request.session.get(NAME_KEY, ""), expires_at=expires_at)
    # The secret is in the address: keep it out of caches and other sites' Referer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _revision(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _act(request: Request, herald: Herald, token: str, post_id: str, name: str,
         action: str, reason: str = "", revision: str = "") -> Response:
    back = f"/review/{token}#post-{post_id}"
    try:
        who = review_links.client_name(name)
        with herald.unit_of_work() as session:
            link = review_links.open_link(session, token, now=utcnow())
            ctx = review_links.acting(herald.context(link.company_id), link, who)
            if action == "approve":
                review_links.approve(session, ctx, link, post_id, revision=_revision(revision))
            elif action == "comment":
                review_links.comment(session, ctx, link, post_id, name=who, body=reason)
            else:
                review_links.reject(session, ctx, link, post_id, reason=reason,
                                    revision=_revision(revision))
    except (Conflict, Invalid) as exc:
        sessions.flash(request, exc.message, "error")
        return see_other(back)
    request.session[NAME_KEY] = who
    sessions.flash(request, DONE[action])
    return see_other(back)


@router.post("/review/{token}/posts/{post_id}/approve")
def review_approve(request: Request, token: str, post_id: str, herald: HeraldDep,
                   name: Annotated[str, Form()] = "",
                   revision: Annotated[str, Form()] = "") -> Response:
    return _act(request, herald, token, post_id, name, "approve", revision=revision)


@router.post("/review/{token}/posts/{post_id}/comment")
def review_comment(request: Request, token: str, post_id: str, herald: HeraldDep,
                   name: Annotated[str, Form()] = "",
                   body: Annotated[str, Form()] = "") -> Response:
    return _act(request, herald, token, post_id, name, "comment", reason=body)


@router.post("/review/{token}/posts/{post_id}/reject")
def review_reject(request: Request, token: str, post_id: str, herald: HeraldDep,
                  name: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
                  revision: Annotated[str, Form()] = "") -> Response:
    return _act(request, herald, token, post_id, name, "reject", reason=reason,
                revision=revision)


def _expiry(days: str) -> timedelta:
    try:
        count = int(days or review_links.DEFAULT_LIFETIME.days)
    except ValueError:
        raise Invalid("Pick how many days the link lasts.") from None
    return timedelta(days=min(max(count, 1), review_links.MAX_LIFETIME.days))


def _made(request: Request, herald: Herald, token: str, back: str) -> Response:
    sessions.flash(request, "Review link made — copy it now, it is shown only once: "
                   + review_links.url(herald.settings.public_url, token))
    return see_other(back)


@router.post("/posts/{post_id}/review-links")
def make_post_link(request: Request, post_id: str, herald: HeraldDep, ctx: ContextDep,
                   scope: Annotated[str, Form()] = "group",
                   days: Annotated[str, Form()] = "") -> Response:
    """A link for this post, or for every post composed with it (its group)."""
    with herald.unit_of_work() as session:
        post = get_post(session, ctx, post_id)
        what = (review_links.Scope(group_id=post.group_id) if scope == "group"
                else review_links.Scope(post_ids=(post.id,)))
        _, token = review_links.create_link(session, ctx, what,
                                            expires_at=ctx.now() + _expiry(days))
    return _made(request, herald, token, f"/posts/{post_id}")


@router.post("/calendar/review-links")
def make_range_link(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
                    start: Annotated[str, Form()] = "", end: Annotated[str, Form()] = "",
                    days: Annotated[str, Form()] = "") -> Response:
    """A link for the posts due from `start` to `end` (whole days, in the user's zone)."""
    back = f"/calendar?date={start}" if start else "/calendar"
    try:
        first = parse_local(start, "00:00", user.tz)
        last = parse_local(end or start, "00:00", user.tz) + timedelta(days=1)
        with herald.unit_of_work() as session:
            _, token = review_links.create_link(
                session, ctx, review_links.Scope(at_from=first, at_to=last),
                expires_at=ctx.now() + _expiry(days))
    except AppError as exc:
        if exc.status == 403:
            raise
        sessions.flash(request, exc.message, "error")
        return see_other(back)
    return _made(request, herald, token, back)


@router.post("/review-links/{link_id}/revoke")
def revoke(request: Request, link_id: str, herald: HeraldDep, ctx: ContextDep,
           next: Annotated[str, Form()] = "") -> Response:
    with herald.unit_of_work() as session:
        review_links.revoke_link(session, ctx, link_id)
    sessions.flash(request, "The review link is revoked: it no longer opens.")
    return see_other(next if next.startswith("/") and not next.startswith("//") else "/")
