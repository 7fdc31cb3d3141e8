"""The chaos test's database side: seeding, progress, the final snapshot, server restarts."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from bench.chaos_fake import Account, post_shape
from bench.common import MARIADB_SERVER, PG_SERVER, settings_for
from herald.config import normalize_database_url
from herald.db import Database, make_engine
from herald.models import Post, PostSchedule, PublishAttempt, SocialAccount, new_id, utcnow

posts_t = cast(Table, Post.__table__)
schedule_t = cast(Table, PostSchedule.__table__)
attempts_t = cast(Table, PublishAttempt.__table__)
accounts_t = cast(Table, SocialAccount.__table__)

OPEN_STATUSES = ("pending", "processing")


@dataclass(frozen=True)
class SeededPost:
    post_id: str
    platform: str
    account: str  # the platform's id for the account
    caption: str


def caption_for(tag: str, index: int, platform: str, account: Account) -> str:
    """Unique, plain text (no LinkedIn Little Text Format characters to escape)."""
    return (f"Chaos run {tag} post {index:05d} for {platform} account "
            f"{account.external_id.rsplit(':', 1)[-1]}. Exactly once, please.")


def seed_posts(url: str, company_id: str, accounts: Sequence[Account], account_ids: Sequence[str],
               *, count: int, spread: float, max_attempts: int, image_url: str, tag: str,
               seed: int) -> list[SeededPost]:
    """`count` pending posts round-robin over the platforms, due now to `spread` s from now.

    Every post gets `max_attempts`, Herald's default unless the run asked otherwise: the
    chaos test runs at the settings users get.
    """
    rng = random.Random(seed)
    by_platform: dict[str, list[tuple[Account, str]]] = {}
    for account, account_id in zip(accounts, account_ids, strict=True):
        by_platform.setdefault(account.platform, []).append((account, account_id))
    platforms = sorted(by_platform)
    now = utcnow()
    group = new_id()
    rows: list[dict[str, Any]] = []
    queue: list[dict[str, Any]] = []
    seeded: list[SeededPost] = []
    for i in range(count):
        platform = platforms[i % len(platforms)]
        choices = by_platform[platform]
        account, account_id = choices[(i // len(platforms)) % len(choices)]
        caption = caption_for(tag, i, platform, account)
        run_at = now + timedelta(seconds=rng.uniform(0.0, spread))
        post_type, media = post_shape(platform, image_url)
        post_id = new_id()
        rows.append(dict(
            id=post_id, company_id=company_id, group_id=group, account_id=account_id,
            platform=platform, post_type=post_type, caption=caption, media=media, options={},
            status="pending", scheduled_at=run_at, attempts=0, created_at=now,
            updated_at=now))
        queue.append(dict(
            post_id=post_id, run_at=run_at, status="pending", attempts=0,
            max_attempts=max_attempts, rescues=0, created_at=now, updated_at=now))
        seeded.append(SeededPost(post_id, platform, account.external_id, caption))
    db = Database.from_settings(settings_for(url))
    try:
        for start in range(0, count, 1000):
            with db.engine.begin() as conn:
                conn.execute(posts_t.insert(), rows[start:start + 1000])
                conn.execute(schedule_t.insert(), queue[start:start + 1000])
    finally:
        db.dispose()
    return seeded


def set_server_urls(url: str, by_platform: dict[str, str]) -> None:
    """Give the accounts of platforms on servers of their own (Bluesky) their server_url."""
    if not by_platform:
        return
    db = Database.from_settings(settings_for(url))
    try:
        with db.engine.begin() as conn:
            for platform, server_url in by_platform.items():
                conn.execute(accounts_t.update().where(accounts_t.c.platform == platform)
                             .values(server_url=server_url))
    finally:
        db.dispose()


def reader(url: str) -> Engine:
    """An engine for the harness's own reads (SQLite: plain reads, no BEGIN IMMEDIATE)."""
    sa_url = normalize_database_url(url)
    if sa_url.get_backend_name() == "sqlite":
        return create_engine(sa_url, connect_args={"timeout": 30})
    return make_engine(sa_url, pool_size=2)


def queue_counts(engine: Engine, *, before: datetime | None = None
                 ) -> dict[str, int] | None:
    """Queue rows (due before `before`, if given) by status, or None while the database
    cannot be reached."""
    query = select(schedule_t.c.status, func.count()).group_by(schedule_t.c.status)
    if before is not None:
        query = query.where(schedule_t.c.run_at < before)
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    except DBAPIError:
        return None
    return {str(status): int(n) for status, n in rows}


def working_workers(engine: Engine, worker_ids: Sequence[str]) -> set[str] | None:
    """Which of these workers have claimed a post (so are past their start-up)."""
    if not worker_ids:
        return set()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(attempts_t.c.worker_id).distinct()
                .where(attempts_t.c.worker_id.in_(list(worker_ids)))
            ).all()
    except DBAPIError:
        return None
    return {str(r.worker_id) for r in rows}


def finishing_workers(engine: Engine, worker_ids: Sequence[str]) -> set[str] | None:
    """Which of these workers have finished an attempt themselves (published it, or
    scheduled its retry): past their start-up and making progress."""
    if not worker_ids:
        return set()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(attempts_t.c.worker_id).distinct()
                .where(attempts_t.c.worker_id.in_(list(worker_ids)),
                       attempts_t.c.finished_at.is_not(None),
                       attempts_t.c.outcome != "lease_expired")
            ).all()
    except DBAPIError:
        return None
    return {str(r.worker_id) for r in rows}


def claimed_since(engine: Engine, worker_ids: Sequence[str], since: datetime) -> set[str]:
    """Which of these workers claimed a post after `since` (so they were working)."""
    if not worker_ids:
        return set()
    with engine.connect() as conn:
        rows = conn.execute(
            select(attempts_t.c.worker_id).distinct()
            .where(attempts_t.c.worker_id.in_(list(worker_ids)),
                   attempts_t.c.started_at > since)
        ).all()
    return {str(r.worker_id) for r in rows}


@dataclass
class Snapshot:
    """Herald's side of the story once everything stopped."""

    posts: dict[str, dict[str, Any]]
    journal_outcomes: dict[str, int]
    journal_phases: dict[str, int]
    error_codes: dict[str, int]
    rescued_posts: int
    rescues: int


def snapshot(engine: Engine, *, attempts: int = 5, wait: float = 3.0) -> Snapshot:
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return _snapshot(engine)
        except DBAPIError as exc:  # the server restart may still be settling
            last = exc
            time.sleep(wait)
    raise RuntimeError(f"could not read the final state: {last}")


def _snapshot(engine: Engine) -> Snapshot:
    with engine.connect() as conn:
        rows = conn.execute(
            select(posts_t.c.id, posts_t.c.platform, posts_t.c.caption, posts_t.c.status,
                   posts_t.c.external_post_id, posts_t.c.error_message, posts_t.c.attempts,
                   schedule_t.c.status.label("queue_status"), schedule_t.c.rescues,
                   schedule_t.c.attempts.label("claims"), schedule_t.c.max_attempts)
            .join(schedule_t, schedule_t.c.post_id == posts_t.c.id)
        ).all()
        outcomes = conn.execute(
            select(attempts_t.c.outcome, func.count()).group_by(attempts_t.c.outcome)).all()
        phases = conn.execute(
            select(attempts_t.c.phase, func.count()).group_by(attempts_t.c.phase)).all()
        codes = conn.execute(
            select(attempts_t.c.error_code, func.count())
            .where(attempts_t.c.error_code.is_not(None))
            .group_by(attempts_t.c.error_code)).all()
    posts = {r.id: dict(r._mapping) for r in rows}
    return Snapshot(
        posts=posts,
        journal_outcomes={str(k): int(v) for k, v in outcomes},
        journal_phases={str(k): int(v) for k, v in phases},
        error_codes=dict(Counter({str(k): int(v) for k, v in codes}).most_common(15)),
        rescued_posts=sum(1 for p in posts.values() if p["rescues"]),
        rescues=sum(int(p["rescues"] or 0) for p in posts.values()),
    )


@dataclass(frozen=True)
class JournalRow:
    """One attempt of one post, as Herald's journal recorded it."""

    attempt: int
    worker_id: str
    started_at: datetime
    finished_at: datetime | None
    phase: str
    outcome: str
    error_code: str | None
    committing_at: datetime | None
    external_id: str | None


def journals(engine: Engine, post_ids: Sequence[str]) -> dict[str, list[JournalRow]]:
    """Each post's attempts, oldest first: the evidence for a diagnosis."""
    out: dict[str, list[JournalRow]] = {pid: [] for pid in post_ids}
    ids = list(post_ids)
    for start in range(0, len(ids), 500):
        with engine.connect() as conn:
            rows = conn.execute(
                select(attempts_t.c.post_id, attempts_t.c.attempt, attempts_t.c.worker_id,
                       attempts_t.c.started_at, attempts_t.c.finished_at, attempts_t.c.phase,
                       attempts_t.c.outcome, attempts_t.c.error_code,
                       attempts_t.c.platform_ids)
                .where(attempts_t.c.post_id.in_(ids[start:start + 500]))
                .order_by(attempts_t.c.post_id, attempts_t.c.attempt)
            ).all()
        for r in rows:
            platform_ids = r.platform_ids if isinstance(r.platform_ids, dict) else {}
            out[r.post_id].append(JournalRow(
                attempt=int(r.attempt), worker_id=str(r.worker_id), started_at=r.started_at,
                finished_at=r.finished_at, phase=str(r.phase), outcome=str(r.outcome),
                error_code=r.error_code, committing_at=_aware(platform_ids.get("committing_at")),
                external_id=platform_ids.get("external_id")))
    return out


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- restarting the database server ------------------------------------------------------


def _server_accepts(engine: str) -> bool:
    """Whether the server answers a trivial query right now (a fresh connection)."""
    if engine == "postgresql":
        url = PG_SERVER.replace("postgresql://", "postgresql+psycopg://") + "/postgres"
        connect_args: dict[str, Any] = {"connect_timeout": 2}
    else:
        url = MARIADB_SERVER.replace("mysql://", "mysql+pymysql://") + "/"
        connect_args = {"connect_timeout": 2}
    probe = create_engine(url, connect_args=connect_args, poolclass=NullPool)
    try:
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except DBAPIError:
        return False
    finally:
        probe.dispose()


def _wait_accepting(engine: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if _server_accepts(engine):
            return True
        time.sleep(0.1)
    return False


@dataclass
class Restart:
    """One restart of the database server, run in a thread so the chaos goes on meanwhile.

    PostgreSQL: `pg_ctlcluster --skip-systemctl-redirect VERSION main restart` (a fast
    shutdown: sessions are terminated). MariaDB: SIGTERM to mariadbd (by the pid in its pid
    file), wait for it to exit, stay down `down_seconds`, start it again with
    start-stop-daemon as this machine does.
    """

    engine: str
    log: Path
    down_seconds: float = 1.0
    timeout: float = 90.0
    started_at: float | None = None
    #: From the first stop signal until the server accepted a connection again.
    outage_seconds: float | None = None
    ok: bool = False
    error: str | None = None
    steps: list[str] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="db-restart", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _note(self, message: str) -> None:
        at = time.monotonic() - (self.started_at or time.monotonic())
        self.steps.append(f"+{at:.2f}s {message}")

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout
        try:
            if self.engine == "postgresql":
                self._restart_postgresql(deadline)
            else:
                self._restart_mariadb(deadline)
        except Exception as exc:  # reported, never raised into the harness
            self.error = f"{type(exc).__name__}: {exc}"
            self._note(f"failed: {self.error}")

    def _command(self, args: list[str], deadline: float) -> None:
        self._note("$ " + " ".join(args))
        with open(self.log, "ab") as out:
            # Its own session: a Ctrl-C in the terminal must not interrupt a restart.
            subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           timeout=max(1.0, deadline - time.monotonic()), check=True,
                           start_new_session=True)

    def _restart_postgresql(self, deadline: float) -> None:
        versions = sorted(os.listdir("/etc/postgresql"))
        if not versions:
            raise RuntimeError("no cluster under /etc/postgresql")
        t0 = time.monotonic()
        self._command(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main",
                       "restart"], deadline)
        self._note("pg_ctlcluster returned")
        if not _wait_accepting("postgresql", deadline):
            raise RuntimeError("PostgreSQL did not accept connections after the restart")
        self.outage_seconds = time.monotonic() - t0
        self._note("accepting connections")
        self.ok = True

    def _restart_mariadb(self, deadline: float) -> None:
        pid, args = mariadb_process()
        t0 = time.monotonic()
        self._note(f"SIGTERM mariadbd pid {pid}")
        os.kill(pid, signal.SIGTERM)
        while Path(f"/proc/{pid}").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"mariadbd (pid {pid}) did not exit after SIGTERM")
            time.sleep(0.05)
        self._note("mariadbd exited")
        time.sleep(self.down_seconds)
        self._command(start_mariadb_args(args), deadline)
        if not _wait_accepting("mariadb", deadline):
            raise RuntimeError("MariaDB did not accept connections after the restart")
        self.outage_seconds = time.monotonic() - t0
        self._note("accepting connections")
        self.ok = True

    def ensure_up(self) -> None:
        """After an interrupted or failed restart: never leave the server down."""
        if self.started_at is None or _server_accepts(self.engine):
            return
        if self.engine == "mariadb":
            if not _mariadb_running():
                subprocess.run(start_mariadb_args([]), timeout=30, check=False,
                               start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        else:
            versions = sorted(os.listdir("/etc/postgresql"))
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main",
                            "start"], timeout=60, check=False, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_accepting(self.engine, time.monotonic() + 30)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "outage_s": None if self.outage_seconds is None
                else round(self.outage_seconds, 2), "error": self.error, "steps": self.steps}


def mariadb_process() -> tuple[int, list[str]]:
    """mariadbd's pid (from its pid file, checked against /proc) and its arguments."""
    candidates = ["/run/mysqld/mysqld.pid", "/var/run/mysqld/mysqld.pid"]
    for path in candidates:
        with contextlib.suppress(OSError, ValueError):
            pid = int(Path(path).read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            name = os.path.basename(cmdline[0].decode())
            if name in ("mariadbd", "mysqld"):
                return pid, [a.decode() for a in cmdline[1:] if a]
    raise RuntimeError(f"mariadbd is not running (no live pid in {', '.join(candidates)})")


def _mariadb_running() -> bool:
    try:
        mariadb_process()
    except RuntimeError:
        return False
    return True


def start_mariadb_args(args: list[str]) -> list[str]:
    command = ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec",
               "/usr/sbin/mariadbd"]
    return [*command, "--", *args] if args else command
