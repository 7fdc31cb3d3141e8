"""Client review links: create one (its URL shown once), list them, revoke one."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.api.posts import _time
from herald.models import ReviewLink
from herald.schemas import Strict
from herald.services import review_links as service

router = APIRouter(prefix="/review-links", tags=["review links"],
                   responses=documented(401, 403, 422))


class ReviewLinkCreate(Strict):
    """What the link shows: `post_ids`, a `group_id`, or `from` and `to` (one of them)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    post_ids: list[str] | None = Field(default=None, max_length=service.MAX_POSTS)
    group_id: str | None = Field(default=None, max_length=36)
    at_from: str | None = Field(default=None, alias="from", max_length=64)
    at_to: str | None = Field(default=None, alias="to", max_length=64)
    #: When it stops working (default 14 days from now, at most 90).
    expires_at: str | None = Field(default=None, max_length=64)


class ReviewLinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: str
    #: "active", "expired" or "revoked".
    state: str
    post_ids: list[str] | None
    group_id: str | None
    at_from: datetime | None = Field(serialization_alias="from")
    at_to: datetime | None = Field(serialization_alias="to")
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_by: str
    created_at: datetime


class ReviewLinkCreated(ReviewLinkOut):
    #: The link to send the client: shown in this answer only (Herald keeps its hash).
    url: str


class ReviewLinkList(BaseModel):
    items: list[ReviewLinkOut]


def _out(link: ReviewLink, now: datetime) -> ReviewLinkOut:
    return ReviewLinkOut.model_validate({
        **{k: getattr(link, k) for k in ReviewLinkOut.model_fields if k != "state"},
        "state": service.state(link, now)})


@router.post("", status_code=201, responses=documented(400, 404, 413),
             response_model_by_alias=True)
def create_review_link(data: ReviewLinkCreate, herald: HeraldDep,
                       ctx: ContextDep) -> ReviewLinkCreated:
    """A secret link that shows the posts to a client without an account."""
    scope = service.Scope(post_ids=tuple(data.post_ids or ()), group_id=data.group_id,
                          at_from=_time(data.at_from, "from"), at_to=_time(data.at_to, "to"))
    expires_at = _time(data.expires_at, "expires_at")
    with herald.unit_of_work() as session:
        link, token = service.create_link(session, ctx, scope, expires_at=expires_at)
        out = _out(link, ctx.now())
        return ReviewLinkCreated(**out.model_dump(),
                                 url=service.url(herald.settings.public_url, token))


@router.get("", response_model_by_alias=True, responses=documented(404))
def list_review_links(herald: HeraldDep, ctx: ContextDep,
                      post_id: str | None = None) -> ReviewLinkList:
    """Newest first; `post_id`: the links that show that post. URLs are never shown again."""
    with herald.db.session() as session:
        links = service.list_links(session, ctx, post_id=post_id)
        now = ctx.now()
        return ReviewLinkList(items=[_out(link, now) for link in links])


@router.delete("/{link_id}", status_code=204, responses=documented(404))
def revoke_review_link(link_id: str, herald: HeraldDep, ctx: ContextDep) -> Response:
    """The link stops working at once."""
    with herald.unit_of_work() as session:
        service.revoke_link(session, ctx, link_id)
    return Response(status_code=204)
