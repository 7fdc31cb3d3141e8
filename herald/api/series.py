"""Series: recurring posts and evergreen library entries (/api/v1/series)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from herald.api.deps import ContextDep, HeraldDep
from herald.api.errors import documented
from herald.errors import Invalid
from herald.planning import series
from herald.planning.schemas import SeriesOut, SeriesPage, SeriesPatch
from herald.schemas import PostCreate

router = APIRouter(prefix="/series", tags=["series"], responses=documented(401, 422))


@router.post("", status_code=201, responses=documented(400, 404, 413))
async def create_series(data: PostCreate, herald: HeraldDep, ctx: ContextDep) -> SeriesOut:
    """A recurring series (`recurrence` and `run_at`, its first occurrence) or an evergreen
    library entry (`evergreen`, no `run_at`)."""
    if data.recurrence is None and data.evergreen is None:
        raise Invalid("a series needs recurrence (with run_at) or evergreen")

    def create() -> SeriesOut:
        with herald.unit_of_work() as session:
            made, _ = series.create_series(session, ctx, data,
                                           window_days=herald.settings.series_window_days)
            return series.series_out(session, ctx, made)

    return await run_in_threadpool(create)


@router.get("")
def list_series(herald: HeraldDep, ctx: ContextDep) -> SeriesPage:
    with herald.db.session() as session:
        return series.list_series(session, ctx)


@router.get("/{series_id}", responses=documented(404))
def get_series(series_id: str, herald: HeraldDep, ctx: ContextDep) -> SeriesOut:
    """The series, its posts still to come and the next times its rule gives."""
    with herald.db.session() as session:
        return series.series_out(session, ctx, series.get_series(session, ctx, series_id))


@router.patch("/{series_id}", responses=documented(400, 404, 409, 413))
def update_series(series_id: str, patch: SeriesPatch, herald: HeraldDep,
                  ctx: ContextDep) -> SeriesOut:
    """Edit the occurrences still to come (not those edited on their own)."""
    with herald.unit_of_work() as session:
        found = series.update_series(session, ctx, series_id, patch,
                                     window_days=herald.settings.series_window_days)
        session.flush()
        return series.series_out(session, ctx, found)


@router.delete("/{series_id}", responses=documented(404))
def stop_series(series_id: str, herald: HeraldDep, ctx: ContextDep) -> SeriesOut:
    """Stop the series: its occurrences still to come are cancelled."""
    with herald.unit_of_work() as session:
        found = series.stop_series(session, ctx, series_id)
        session.flush()
        return series.series_out(session, ctx, found)
