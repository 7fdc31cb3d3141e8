"""One planning pass: expand recurring series and refill empty slots, for every company.

Every worker runs it every HERALD_PLANNING_INTERVAL seconds (and `herald run-once` once).
Each series and each account is planned in a transaction of its own, holding its row's
lock, so passes on several workers at once share the work instead of repeating it: a
series another pass holds is skipped (SKIP LOCKED), an account waits for its lock and
then finds its slots filled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from herald.db import Database
from herald.models import PostSeries, utcnow
from herald.planning import evergreen
from herald.planning.series import BATCH_ROWS, RECURRING, expand
from herald.services.context import Context

log = logging.getLogger(__name__)


@dataclass
class Planned:
    """What one pass made."""

    occurrences: int = 0
    refills: int = 0


@dataclass
class Planner:
    db: Database
    #: A company's Context (herald.context): its max_attempts, its checks.
    context: Callable[[str], Context]
    window: timedelta
    lead: timedelta
    gap: timedelta
    #: Called after a pass that made posts (wakes this process's workers).
    changed: Callable[[], None] = lambda: None

    def run_once(self, now: datetime | None = None) -> Planned:
        now = now or utcnow()
        planned = Planned()
        for series_id in self._series_due(now):
            planned.occurrences += self._expand(series_id, now)
        with self.db.session() as session:
            accounts = evergreen.accounts_to_refill(session)
        for account_id, company_id in accounts:
            planned.refills += self._refill(account_id, company_id, now)
        if planned.occurrences or planned.refills:
            log.info("planning made %d occurrences and %d evergreen refills",
                     planned.occurrences, planned.refills)
            self.changed()
        return planned

    def _series_due(self, now: datetime) -> list[str]:
        with self.db.session() as session:
            return list(session.scalars(select(PostSeries.id).where(
                PostSeries.kind == RECURRING, PostSeries.stopped_at.is_(None),
                or_(PostSeries.expanded_until.is_(None),
                    PostSeries.expanded_until < now + self.window))))

    def _expand(self, series_id: str, now: datetime) -> int:
        """The series' window moved on, BATCH_ROWS posts a transaction: each batch holds
        the series' and its accounts' rows for as long as it takes, not the whole year."""
        made, until = 0, now + self.window
        while True:
            try:
                with self.db.session() as session:
                    series = session.scalars(
                        select(PostSeries).where(PostSeries.id == series_id,
                                                 PostSeries.stopped_at.is_(None))
                        .with_for_update(skip_locked=True)).first()
                    if series is None:
                        return made  # another planner holds it, or it was stopped
                    before = series.expanded_until
                    made += len(expand(session, self.context(series.company_id), series,
                                       now=now, until=until, max_rows=BATCH_ROWS))
                    reached = series.expanded_until
            except IntegrityError:
                # Only reachable if a lock was lost (it cannot be on one engine): the unique
                # occurrence refused a second copy, and the next pass sees the first.
                log.warning("series %s: an occurrence existed already; skipped", series_id)
                return made
            if reached is None or reached >= until or reached == before:
                return made

    def _refill(self, account_id: str, company_id: str, now: datetime) -> int:
        try:
            with self.db.session() as session:
                return len(evergreen.refill_account(session, self.context(company_id),
                                                    account_id, now=now, lead=self.lead,
                                                    gap=self.gap))
        except IntegrityError:
            log.warning("account %s: a slot was filled meanwhile; skipped", account_id)
            return 0
