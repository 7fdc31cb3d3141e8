"""The audit log: who did what, when, with the before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.api.posts import _time
from herald.services import audit

router = APIRouter(prefix="/audit", tags=["audit"], responses=documented(401, 403, 422))


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    #: "web:<email>", "token:<prefix>", "cli".
    actor: str
    action: str
    post_id: str | None
    account_id: str | None
    #: What changed, as it was and as it became (tokens and passwords never appear).
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


@router.get("")
def list_audit(
    herald: HeraldDep,
    ctx: ContextDep,
    post_id: str | None = None,
    account_id: str | None = None,
    actor: str | None = None,
    action: audit.Action | None = None,
    at_from: Annotated[str | None, Query(alias="from")] = None,
    at_to: Annotated[str | None, Query(alias="to")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    """Newest first; `action` is one of post.created, post.edited, post.approved, …"""
    filters = audit.AuditFilters(post_id=post_id, account_id=account_id, actor=actor,
                                 action=action, at_from=_time(at_from, "from"),
                                 at_to=_time(at_to, "to"))
    with herald.db.session() as session:
        rows, next_cursor = audit.entries(session, ctx, filters, cursor=cursor, limit=limit)
        return AuditPage(items=[AuditOut.model_validate(r) for r in rows],
                         next_cursor=next_cursor)
