"""The audit page: the company's audit log, newest first, with filters."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from herald.services import audit
from herald.web import queries
from herald.web.deps import ContextDep, HeraldDep, UserDep
from herald.web.render import page
from herald.web.routes import web_router

router = web_router()


def _shown(value: dict[str, Any] | None) -> str:
    return "" if not value else json.dumps(value, ensure_ascii=False, sort_keys=True,
                                           default=str)


@router.get("/audit")
def audit_page(request: Request, herald: HeraldDep, user: UserDep, ctx: ContextDep,
               action: str = "", actor: str = "", post_id: str = "",
               cursor: str = "") -> Response:
    filters = audit.AuditFilters(action=action or None, actor=actor.strip() or None,
                                 post_id=post_id.strip() or None)
    with herald.db.session() as session:
        rows, next_cursor = audit.entries(session, ctx, filters, cursor=cursor or None,
                                          limit=100)
        accounts = queries.accounts_by_id(session, user.company_id)
    entries = [{"entry": r, "before": _shown(r.before), "after": _shown(r.after)}
               for r in rows]
    return page(request, "audit.html", user, title="Audit log", active="audit",
                entries=entries, accounts=accounts, next_cursor=next_cursor,
                actions=[a.value for a in audit.Action],
                values={"action": action, "actor": actor, "post_id": post_id})
