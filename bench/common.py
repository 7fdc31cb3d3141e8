"""Shared by the benchmarks: fresh databases per engine, bulk seeding, percentiles."""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import create_engine, text

from herald import migrate
from herald.config import Settings
from herald.crypto import TokenCipher, hash_api_token, new_api_token
from herald.db import Database
from herald.models import (
    ApiToken,
    Company,
    Post,
    PostSchedule,
    SocialAccount,
    SocialToken,
    new_id,
    utcnow,
)

SECRET = "bench-secret-key-0123456789abcdef"
PG_SERVER = os.environ.get("HERALD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
MARIADB_SERVER = os.environ.get("HERALD_TEST_MARIADB", "mysql://root@127.0.0.1:3306")


def process_tree(root: int) -> set[int]:
    """A process and its live descendants (Linux /proc): what `herald serve` runs as."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                # The command name may hold spaces; the fields after it do not.
                parents[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier += children
    return tree


def fresh_database(engine: str, name: str, tmpdir: str) -> str:
    """An empty, migrated database; returns its URL."""
    if engine == "sqlite":
        path = os.path.join(tmpdir, f"{name}.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        url = f"sqlite:///{path}"
    elif engine == "postgresql":
        admin = create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://")
                              + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = f"{PG_SERVER}/{name}"
    else:
        admin = create_engine(MARIADB_SERVER.replace("mysql://", "mysql+pymysql://") + "/")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        admin.dispose()
        url = f"{MARIADB_SERVER}/{name}"
    db = Database.from_settings(settings_for(url))
    migrate.upgrade(db.engine)
    db.dispose()
    return url


def drop_database(engine: str, url: str) -> None:
    """Drop a database fresh_database made (an SQLite file goes with its folder)."""
    name = url.rsplit("/", 1)[1]
    if engine == "postgresql":
        admin = create_engine(PG_SERVER.replace("postgresql://", "postgresql+psycopg://")
                              + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    elif engine == "mariadb":
        admin = create_engine(MARIADB_SERVER.replace("mysql://", "mysql+pymysql://") + "/")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def settings_for(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(database_url=url, secret_key=SECRET,
                                     allow_private_media_urls=True)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def seed_company(db: Database, cipher: TokenCipher,
                 accounts: Sequence[tuple[str, str, str]],
                 servers: Mapping[str, str] | None = None) -> tuple[str, str, list[str]]:
    """A company, an API token and accounts (platform, external id, token); `servers`:
    the server_url of accounts by platform (a Mastodon instance)."""
    company_id = new_id()
    token = new_api_token()
    now = utcnow()
    ids = [new_id() for _ in accounts]
    with db.engine.begin() as conn:
        conn.execute(Company.__table__.insert(), [dict(id=company_id, name="Bench",
                                                       timezone="UTC", created_at=now)])
        conn.execute(ApiToken.__table__.insert(), [dict(
            id=new_id(), company_id=company_id, name="bench", token_hash=hash_api_token(token),
            prefix=token[:12], created_at=now)])
        conn.execute(SocialAccount.__table__.insert(), [dict(
            id=aid, company_id=company_id, platform=p, external_id=ext, name=f"{p} {ext}",
            state="active", sandbox=False, server_url=(servers or {}).get(p),
            created_at=now, updated_at=now)
            for aid, (p, ext, _) in zip(ids, accounts, strict=True)])
        conn.execute(SocialToken.__table__.insert(), [dict(
            account_id=aid, access_token_enc=cipher.encrypt(tok), updated_at=now)
            for aid, (_, _, tok) in zip(ids, accounts, strict=True)])
    return company_id, token, ids


def seed_at(url: str, accounts: Sequence[tuple[str, str, str]],
            servers: Mapping[str, str] | None = None) -> tuple[str, str, list[str]]:
    """seed_company in the database at `url`, with the benchmarks' secret key."""
    db = Database.from_settings(settings_for(url))
    try:
        return seed_company(db, TokenCipher(SECRET), accounts, servers)
    finally:
        db.dispose()


def seed_posts(db: Database, company_id: str, account_ids: Sequence[str],
               platforms: Sequence[str], count: int, run_at: datetime | Sequence[datetime],
               *, media: list[dict[str, str]] | None = None, chunk: int = 2000,
               caption: str = "Benchmark post") -> list[str]:
    """Bulk-insert `count` pending posts round-robin over the accounts."""
    now = utcnow()
    times = [run_at] * count if isinstance(run_at, datetime) else list(run_at)
    ids = [new_id() for _ in range(count)]
    group = new_id()
    for start in range(0, count, chunk):
        part = range(start, min(count, start + chunk))
        with db.engine.begin() as conn:
            conn.execute(Post.__table__.insert(), [dict(
                id=ids[i], company_id=company_id, group_id=group,
                account_id=account_ids[i % len(account_ids)],
                platform=platforms[i % len(platforms)], post_type="feed",
                caption=f"{caption} {i}", media=media or [], options={},
                status="pending", scheduled_at=times[i], attempts=0, created_at=now,
                updated_at=now) for i in part])
            conn.execute(PostSchedule.__table__.insert(), [dict(
                post_id=ids[i], run_at=times[i], status="pending", attempts=0,
                max_attempts=3, rescues=0, created_at=now, updated_at=now) for i in part])
    return ids


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def later(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)
