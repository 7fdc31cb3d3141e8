"""Test doubles and builders shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from herald import queue, services
from herald.models import utcnow
from herald.platforms.base import PublishJob, PublishResult
from herald.runtime import Herald
from herald.schemas import AccountCreate, PostCreate

Behaviour = Callable[[PublishJob], Any]


class RecordingPublisher:
    """A publisher that records each job; `behaviours` decide per post what happens."""

    def __init__(self, platform: str, *, delay: float = 0.0) -> None:
        self.platform = platform
        self.delay = delay
        self.calls: list[tuple[PublishJob, datetime]] = []
        #: post id → exception to raise (or a list of them, one per attempt)
        self.behaviours: dict[str, list[BaseException | None]] = {}
        self.started = asyncio.Event()
        #: Calls running now, and the most that ever ran at once.
        self.in_flight = 0
        self.most_in_flight = 0

    def fail(self, post_id: str, *errors: BaseException | None) -> None:
        self.behaviours[post_id] = list(errors)

    async def publish(self, job: PublishJob) -> PublishResult:
        self.calls.append((job, utcnow()))
        self.started.set()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        plan = self.behaviours.get(job.post_id)
        if plan:
            error = plan.pop(0)
            if error is not None:
                raise error
        return PublishResult(external_id=f"{self.platform}-{job.post_id[:8]}-{job.attempt}",
                             permalink=f"https://example.test/{job.post_id}")

    def published_ids(self) -> list[str]:
        return [job.post_id for job, _ in self.calls]


def add_account(herald: Herald, company_id: str, platform: str = "facebook",
                external_id: str = "page-1", **extra: Any) -> str:
    with herald.db.session() as session:
        ctx = herald.context(company_id)
        account = services.create_account(session, ctx, AccountCreate(
            platform=platform, external_id=external_id, name=f"{platform} {external_id}",
            access_token="secret-token-" + external_id, **extra))
        return account.id


def add_posts(herald: Herald, company_id: str, account_id: str, count: int = 1, *,
              run_at: datetime | str = "now", caption: str = "Hello",
              media: list[dict[str, Any]] | None = None, post_type: str = "feed",
              ) -> list[str]:
    """Create posts straight through the service (no HTTP), all in one transaction."""
    ids: list[str] = []
    with herald.db.session() as session:
        ctx = herald.context(company_id)
        for _ in range(count):
            data = PostCreate(account_id=account_id, caption=caption, run_at=run_at,
                              post_type=post_type, media=media or [])
            ids += [p.id for p in services.create_posts(session, ctx, data)]
    return ids


def make_due(herald: Herald, post_ids: list[str], *, at: datetime | None = None) -> None:
    """Move posts' run_at into the past (tests cannot create past posts through the API)."""
    when = at or utcnow() - timedelta(seconds=1)
    with herald.db.engine.begin() as conn:
        conn.execute(queue.schedule.update().where(queue.schedule.c.post_id.in_(post_ids))
                     .values(run_at=when))


def run_together(count: int, target: Callable[[int], Any]) -> None:
    """Call target(0) … target(count - 1) in threads that start at once; raise what any
    of them raised."""
    import threading

    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            start.wait()
            target(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
