"""Dependencies shared by the routers: the Herald instance and the caller's context."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from herald import services
from herald.services import Context
from herald.state import Herald


def get_herald(request: Request) -> Herald:
    herald: Herald = request.app.state.herald
    return herald


HeraldDep = Annotated[Herald, Depends(get_herald)]


def get_context(request: Request, herald: HeraldDep) -> Context:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    with herald.db.session() as session:
        company_id = services.authenticate(
            session, token.strip() if scheme.lower() == "bearer" else None
        )
    return herald.context(company_id, actor="api")


ContextDep = Annotated[Context, Depends(get_context)]
