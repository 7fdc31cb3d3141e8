"""The dashboard: what goes out next, what needs a person, accounts to reconnect."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from herald.models import utcnow
from herald.web import queries
from herald.web.deps import HeraldDep, UserDep
from herald.web.render import page
from herald.web.routes import web_router

router = web_router()


@router.get("/")
def dashboard(request: Request, herald: HeraldDep, user: UserDep) -> Response:
    with herald.db.session() as session:
        board = queries.dashboard(session, user.company_id, utcnow())
        accounts = queries.accounts_by_id(session, user.company_id)
    return page(request, "dashboard.html", user, title="Dashboard", active="dashboard",
                board=board, accounts=accounts)
