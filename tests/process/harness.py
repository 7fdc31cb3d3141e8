"""A stage for the reliability tests: the platform fake, a seeded company and real
`herald worker` processes, with what the platform saw compared to what Herald says."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bench.chaos_fake import FakePlatforms
from bench.chaos_procs import spawn, stop_process, tail
from bench.common import SECRET, seed_company, seed_posts, settings_for
from herald import dbclock
from herald.crypto import TokenCipher
from herald.db import Database
from herald.models import Post, PostSchedule, PublishAttempt

#: Facebook Pages: text posts are one commit call each, the simplest exactly-once check.
PAGES = [("facebook", f"10{i + 1:013d}", f"stage-fb-token-{i + 1}") for i in range(2)]


@dataclass
class Worker:
    worker_id: str
    proc: Any
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log_text():
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.worker_id} exited "
                                     f"({self.proc.returncode}):\n{tail(self.log)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker {self.worker_id} never logged {needle!r}:\n"
                                     f"{tail(self.log)}")
            time.sleep(0.1)

    def stop(self, grace: float = 20.0) -> int | None:
        return stop_process(self.proc, grace=grace)


@dataclass
class Stage:
    url: str
    dir: Path
    fake: FakePlatforms
    db: Database
    company_id: str
    account_ids: list[str]
    workers: list[Worker] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HERALD_", "FAKETIME"))}
        env.update({
            "HERALD_DATABASE_URL": self.url,
            "HERALD_SECRET_KEY": SECRET,
            "HERALD_GRAPH_API_URL": self.fake.graph_url,
            "HERALD_LINKEDIN_API_URL": self.fake.linkedin_url,
            "HERALD_ALLOW_PRIVATE_MEDIA_URLS": "1",
            "HERALD_MEDIA_DIR": str(self.dir / "media"),
            "HERALD_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(extra)
        return env

    def start_worker(self, worker_id: str, *, prefix: Sequence[str] = (),
                     env: dict[str, str] | None = None) -> Worker:
        log = self.dir / f"worker-{worker_id}.log"
        proc = spawn([*prefix, sys.executable, "-m", "herald", "worker", "--id", worker_id],
                     log=log, env=env or self.env(), cwd=self.dir)
        worker = Worker(worker_id, proc, log)
        self.workers.append(worker)
        return worker

    def db_now(self) -> datetime:
        with self.db.engine.connect() as conn:
            return dbclock.read_now(conn)

    def add_posts(self, count: int, *, in_seconds: float = 0.0,
                  caption: str = "Stage post") -> tuple[list[str], datetime]:
        """`count` text posts due `in_seconds` from the database's now; (ids, run_at)."""
        run_at = self.db_now() + timedelta(seconds=in_seconds)
        ids = seed_posts(self.db, self.company_id, self.account_ids, ["facebook"], count,
                         run_at, caption=caption)
        return ids, run_at

    def statuses(self, ids: Sequence[str]) -> dict[str, str]:
        with self.db.session() as s:
            return dict(s.execute(select(Post.id, Post.status).where(Post.id.in_(ids))).all())

    def entries(self, ids: Sequence[str]) -> dict[str, PostSchedule]:
        with self.db.session() as s:
            return {e.post_id: e for e in s.scalars(
                select(PostSchedule).where(PostSchedule.post_id.in_(ids)))}

    def attempts(self, ids: Sequence[str]) -> list[PublishAttempt]:
        with self.db.session() as s:
            return list(s.scalars(select(PublishAttempt).where(
                PublishAttempt.post_id.in_(ids)).order_by(PublishAttempt.started_at)))

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {w.worker_id}\n{tail(w.log)}" for w in self.workers)
                raise AssertionError(f"timed out waiting for {what}\n{logs}")
            time.sleep(0.2)

    def published(self) -> list[dict[str, Any]]:
        """What the platform fake holds as published (applied commits)."""
        return self.fake.published()

    def exactly_once(self, ids: Sequence[str]) -> None:
        """Every post published in Herald, out once on the platform, with that id."""
        statuses = self.statuses(ids)
        assert set(statuses.values()) == {"published"}, statuses
        out = [r for r in self.published() if r["caption"] in self.captions(ids)]
        by_caption: dict[str, list[str]] = {}
        for record in out:
            by_caption.setdefault(record["caption"], []).append(record["external_id"])
        twice = {c: ext for c, ext in by_caption.items() if len(ext) > 1}
        assert not twice, f"out twice: {twice}"
        assert len(by_caption) == len(ids), f"{len(by_caption)} out of {len(ids)}"
        with self.db.session() as s:
            herald_ids = dict(s.execute(select(Post.caption, Post.external_post_id)
                                        .where(Post.id.in_(ids))).all())
        assert {c: ext[0] for c, ext in by_caption.items()} == herald_ids

    def captions(self, ids: Sequence[str]) -> set[str]:
        with self.db.session() as s:
            return set(s.scalars(select(Post.caption).where(Post.id.in_(ids))))


@pytest.fixture
def server_database(database_url: str) -> str:
    """The database URL, for a test that needs a server apart from the worker's host.

    SQLite runs inside each process that opens it (its clock is that host's, and there is
    no connection to cut): such a test skips on SQLite. Ask for it before `stage`.
    """
    if database_url.startswith("sqlite"):
        pytest.skip("needs a database server apart from the worker (SQLite runs inside it)")
    return database_url


@pytest.fixture
def stage(database_url: str, tmp_path: Path) -> Iterator[Stage]:
    fake = FakePlatforms(log=tmp_path / "fake.log", seed=1)
    fake.start()
    for platform, external_id, token in PAGES:
        fake._call("POST", "/_fake/accounts",
                   json={"platform": platform, "id": external_id, "token": token})
    db = Database.from_settings(settings_for(database_url))
    company_id, _, account_ids = seed_company(db, TokenCipher(SECRET), PAGES)
    st = Stage(database_url, tmp_path, fake, db, company_id, account_ids)
    try:
        yield st
    finally:
        for worker in st.workers:
            worker.stop(grace=5)
        fake.stop()
        db.dispose()
