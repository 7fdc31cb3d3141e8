"""Dependencies shared by the routers: the Herald instance and the caller's context."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from herald.api import auth
from herald.services import Context
from herald.state import Herald


def get_herald(request: Request) -> Herald:
    herald: Herald = request.app.state.herald
    return herald


HeraldDep = Annotated[Herald, Depends(get_herald)]


def get_token_cache(request: Request) -> auth.TokenCache:
    cache: auth.TokenCache = request.app.state.token_cache
    return cache


async def get_context(request: Request, herald: HeraldDep) -> Context:
    # Async so that a remembered token costs no thread hop; a lookup takes one.
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else None
    cache = get_token_cache(request)
    key = auth.cache_key(token) if token else None
    company_id = cache.get(key) if key else None
    if company_id is None:
        company_id = await run_in_threadpool(auth.lookup, herald.db, token)
        if key:
            cache.put(key, company_id)
    return herald.context(company_id, actor="api")


ContextDep = Annotated[Context, Depends(get_context)]
