"""Bulk import: POST /api/v1/posts/import takes a CSV or a JSON array of create bodies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from herald import services
from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.errors import Invalid

router = APIRouter(prefix="/posts", tags=["posts"], responses=documented(401, 403, 422))

_BODY = {"content": {
    "text/csv": {"schema": {"type": "string"}, "example":
                 "account,run_at,caption,media\nAcme Page,2026-12-01T09:00:00+01:00,Hello,"
                 "https://example.com/a.jpg\n"},
    "application/json": {"schema": {"type": "array", "items": {
        "$ref": "#/components/schemas/PostCreate"}}}}, "required": True}


@router.post("/import", status_code=201, responses={
    200: {"description": "A dry run whose every row is valid: the per-row report"},
    **documented(400, 413)}, openapi_extra={"requestBody": _BODY})
async def import_posts(request: Request, herald: HeraldDep, ctx: ContextDep,
                       dry_run: bool = False) -> JSONResponse:
    """Import many posts: each row checked as a single create; all stored, or none.

    `dry_run=true` stores nothing and answers the report (200). Any bad row, dry run or
    not, is a 422 whose `details` name each bad row, its account and what is wrong.
    """
    raw = await request.body()
    content_type = request.headers.get("content-type", "")

    def run() -> dict[str, Any]:
        report = services.import_posts(
            herald.unit_of_work, ctx, raw, content_type, dry_run=dry_run,
            max_rows=herald.settings.max_import_rows)
        if report.bad_rows:
            raise Invalid(report.summary(), details=report.as_dict()["problems"])
        return report.as_dict() | {"message": report.summary()}

    body = await run_in_threadpool(run)
    return JSONResponse(body, status_code=200 if dry_run else 201)
