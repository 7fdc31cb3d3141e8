"""/healthz (the process answers), /readyz (it can serve: database and schema) and /metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from herald import __version__, metrics, migrate
from herald.api.deps import HeraldDep

router = APIRouter(tags=["meta"])

_NOT_READY = {"description": "The database is unreachable or its schema is not current",
              "content": {"application/json": {"example": {
                  "ok": False, "database": "postgresql",
                  "problem": "the database schema is not at migration 0010; run "
                             "`herald db upgrade`"}}}}


@router.get("/healthz")
async def healthz(herald: HeraldDep) -> dict[str, Any]:
    """The process is up and answering; touches nothing else (a liveness probe)."""
    return {"ok": True, "version": __version__, "database": herald.db.dialect}


@router.get("/readyz", responses={503: _NOT_READY})
def readyz(herald: HeraldDep) -> JSONResponse:
    """Ready to serve: the database answers and its schema is at this version's migration."""
    problem = readiness_problem(herald.db.engine)
    body = {"ok": problem is None, "version": __version__, "database": herald.db.dialect}
    if problem:
        body["problem"] = problem
    return JSONResponse(body, status_code=503 if problem else 200)


def readiness_problem(engine: Engine) -> str | None:
    """What keeps this process from serving, in one line, or None."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        lines = str(exc.orig or exc).strip().splitlines()
        return f"the database cannot be reached: {lines[0] if lines else type(exc).__name__}"
    if not migrate.is_up_to_date(engine):
        return (f"the database schema is not at migration {migrate.HEAD}; run "
                "`herald db upgrade`")
    return None


@router.get("/metrics", include_in_schema=False)
def metrics_text(request: Request, herald: HeraldDep) -> Response:
    """Prometheus' text format; with HERALD_METRICS_TOKEN set, for its bearer only."""
    token = herald.settings.metrics_token
    if not metrics.authorized(request.headers.get("authorization"),
                              token.get_secret_value() if token else None):
        return Response("metrics need the bearer token of HERALD_METRICS_TOKEN\n",
                        status_code=401, media_type="text/plain",
                        headers={"WWW-Authenticate": "Bearer"})
    queue: Any = request.app.state.queue_metrics
    return Response(metrics.exposition(queue), media_type=metrics.CONTENT_TYPE)
