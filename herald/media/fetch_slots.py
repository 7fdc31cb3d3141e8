"""How many schedule-time media downloads run at once: in all, and per company.

A post's media URLs are fetched while its create request waits, in one of the API's few
threads (herald.app.API_THREADS). A URL whose server dribbles a byte a second holds its
thread for the whole fetch deadline, so eight of them once left every other tenant
waiting. A request that would fetch takes a slot first, without waiting: over the
company's share it is refused with 429, over the process's with 503, both with
Retry-After, so the threads left over always serve everything else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from herald.errors import AppError

#: Seconds a refused client is asked to wait before it tries again.
RETRY_AFTER = 5


class FetchesBusy(AppError):
    """Herald is busy downloading media for other posts; try again in a few seconds."""

    status = 503
    code = "media_fetch_busy"
    retry_after: int | None = RETRY_AFTER


class CompanyFetchesBusy(FetchesBusy):
    """Your company has as many media downloads running as Herald allows at once."""

    status = 429


class FetchSlots:
    """Non-blocking slots: `total` in the process, `per_company` for any one company."""

    def __init__(self, *, total: int, per_company: int) -> None:
        self.total, self.per_company = total, per_company
        self._lock = threading.Lock()
        self._running = 0
        self._by_company: dict[str, int] = {}

    @contextmanager
    def take(self, company_id: str | None) -> Iterator[None]:
        """Hold a slot for the block, or raise at once (429 or 503) when none is free."""
        key = company_id or ""  # no company (a check without one): the total alone
        with self._lock:
            if company_id and self._by_company.get(key, 0) >= self.per_company:
                raise CompanyFetchesBusy(
                    f"Herald is already downloading the media of {self.per_company} posts "
                    f"of your company; try again in {RETRY_AFTER} seconds, or upload the "
                    "file (POST /api/v1/media) and schedule its URL.")
            if self._running >= self.total:
                raise FetchesBusy(
                    f"Herald is busy downloading media for other posts; try again in "
                    f"{RETRY_AFTER} seconds, or upload the file (POST /api/v1/media) and "
                    "schedule its URL.")
            self._running += 1
            self._by_company[key] = self._by_company.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                left = self._by_company[key] - 1
                if left:
                    self._by_company[key] = left
                else:
                    del self._by_company[key]

    @property
    def running(self) -> int:
        with self._lock:
            return self._running
