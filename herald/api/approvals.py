"""Approvals: approve a post awaiting approval (it is queued) or reject it (back to draft)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from herald import services
from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.errors import Invalid
from herald.schemas import PostOut, Strict, parse_run_at

router = APIRouter(prefix="/posts", tags=["approvals"], responses=documented(401, 403, 422))


class Approve(Strict):
    #: The revision the approver saw; a post edited since is a 409 (default: the current).
    revision: int | None = Field(default=None, ge=0)
    #: A new time, for a post whose time passed while it waited.
    run_at: str | None = Field(default=None, max_length=64)


class Reject(Strict):
    reason: str = Field(max_length=5000)
    revision: int | None = Field(default=None, ge=0)


@router.post("/{post_id}/approve", responses=documented(400, 404, 409, 413))
def approve(post_id: str, herald: HeraldDep, ctx: ContextDep,
            body: Approve | None = None) -> PostOut:
    """Queue the post at its time (or `run_at`); 409 when it changed since `revision`."""
    body = body or Approve()
    try:
        run_at = parse_run_at(body.run_at) if body.run_at else None
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    with herald.unit_of_work() as session:
        post = services.approve_post(session, ctx, post_id, revision=body.revision,
                                     run_at=run_at)
        return PostOut.model_validate(post)


@router.post("/{post_id}/reject", responses=documented(400, 404, 409, 413))
def reject(post_id: str, body: Reject, herald: HeraldDep, ctx: ContextDep) -> PostOut:
    """Back to draft, with `reason` for its author (shown as the post's review_note)."""
    with herald.unit_of_work() as session:
        post = services.reject_post(session, ctx, post_id, reason=body.reason,
                                    revision=body.revision)
        return PostOut.model_validate(post)
