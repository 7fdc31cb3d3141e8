"""The sandbox page: what the built-in sandbox received for the signed-in user's company."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from herald.errors import NotFound
from herald.platforms.registry import SANDBOX_PATH
from herald.web.deps import HeraldDep, UserDep
from herald.web.render import page
from herald.web.routes import web_router

router = web_router()


# Registered before the sandbox is mounted at SANDBOX_PATH, so this page answers, not the
# fake's own (which lists every account's posts and knows nothing of sessions).
@router.get(f"{SANDBOX_PATH}/")
def sandbox_page(request: Request, herald: HeraldDep, user: UserDep) -> HTMLResponse:
    if herald.sandbox is None:
        raise NotFound("The sandbox runs under `herald run`.")
    # In Herald's own layout and styles, narrow enough for a phone.
    table = herald.sandbox.table(user.company_id, request.query_params.get("id"))
    return page(request, "sandbox.html", user, title="Sandbox", table=table)
