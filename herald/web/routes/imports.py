"""Import: a CSV or JSON file checked row by row (a dry run), then imported all at once."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from herald import services
from herald.errors import AppError
from herald.imports import COLUMNS
from herald.runtime import Herald
from herald.web import sessions
from herald.web.deps import HeraldDep, UserDep, WebUser, mark_web, web_context
from herald.web.render import page
from herald.web.routes import see_other

# Not web_router(): its CSRF check reads the form with Starlette's 1 MB limit per field,
# and a checked file comes back as a field for the import. The check is made below, on
# the form read with the import's own limit.
router = APIRouter(dependencies=[Depends(mark_web)], include_in_schema=False)


def _page(request: Request, user: WebUser, *, status_code: int = 200, **values: Any
          ) -> Response:
    context: dict[str, Any] = {"error": None, "report": None}
    context.update(values)
    return page(request, "import.html", user, title="Import posts", active="posts",
                columns=COLUMNS, status_code=status_code, **context)


@router.get("/import")
def import_page(request: Request, user: UserDep) -> Response:
    return _page(request, user)


@router.post("/import")
async def import_file(request: Request, herald: HeraldDep, user: UserDep) -> Response:
    form = await request.form(max_part_size=herald.settings.max_import_bytes)
    _check_csrf(request, form.get(sessions.CSRF_FIELD))
    upload, kept = form.get("file"), form.get("content")
    if isinstance(upload, UploadFile) and upload.filename:
        raw, name = await upload.read(), upload.filename
    elif isinstance(kept, str) and kept:
        raw, name = kept.encode(), str(form.get("filename") or "import.csv")
    else:
        return _page(request, user, status_code=422, error="Choose a CSV or JSON file.")
    dry_run = form.get("action") != "import"
    kind = "application/json" if name.lower().endswith(".json") else "text/csv"
    try:
        report = await run_in_threadpool(_run, herald, user, raw, kind, dry_run)
    except AppError as exc:
        return _page(request, user, status_code=exc.status, error=exc.message)
    if report.stored:
        sessions.flash(request, report.summary())
        return see_other("/posts")
    return _page(request, user, status_code=200 if dry_run else 422, report=report.as_dict(),
                 summary=report.summary(), content=raw.decode("utf-8", "replace"),
                 filename=name, ok=not report.bad_rows)


def _run(herald: Herald, user: WebUser, raw: bytes, kind: str, dry_run: bool
         ) -> services.ImportReport:
    return services.import_posts(herald.unit_of_work, web_context(herald, user),
                                 raw, kind, dry_run=dry_run,
                                 max_rows=herald.settings.max_import_rows,
                                 timezone=user.timezone)


def _check_csrf(request: Request, given: object) -> None:
    expected = request.session.get("csrf")
    if not expected or not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise sessions.CsrfRefused()
