"""Dependencies shared by the routers: the Herald instance and the caller's context."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from herald import services
from herald.api import auth
from herald.bodies import CALLER_KEY
from herald.errors import Invalid, Unauthorized
from herald.runtime import Herald
from herald.services import Context


async def get_herald(request: Request) -> Herald:
    # Async though it awaits nothing: FastAPI runs a sync dependency in the thread pool,
    # a thread hop per request just to read app.state.
    herald: Herald = request.app.state.herald
    return herald


HeraldDep = Annotated[Herald, Depends(get_herald)]


def get_token_cache(request: Request) -> auth.TokenCache[services.ApiCaller]:
    cache: auth.TokenCache[services.ApiCaller] = request.app.state.token_cache
    return cache


async def get_context(request: Request, herald: HeraldDep) -> Context:
    # Async so that a remembered token costs no thread hop; a lookup takes one.
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else None

    if not token:
        raise Unauthorized()
    # PostgreSQL refuses NUL in text: an id or a filter with one would fail in the
    # database (a 500) instead of matching nothing.
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if "\x00" in value:
            raise Invalid(f"{name} contains a NUL character (%00), which no value in Herald "
                          "has")

    async def lookup(token: str) -> services.ApiCaller:
        return await run_in_threadpool(auth.lookup, herald.db, token)

    # BodyGuard checked the token of a request with a body already, before reading it.
    checked: services.ApiCaller | None = request.scope.get(CALLER_KEY)
    caller = checked or await get_token_cache(request).company_id(token, lookup)
    return herald.context(caller.company_id, actor=caller.actor, role=caller.role)


ContextDep = Annotated[Context, Depends(get_context)]
