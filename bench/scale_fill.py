"""Fill a database with a year of future posts, rows as the API writes them, fast.

Each account's row is made once by the API's own code (`services.posts.plan_posts`, the
checks and columns of `POST /api/v1/posts`); every post is a copy of it with its own id,
group, caption and times. The queue rows go through `queue.enqueue_many` and the audit
entries through `audit.record_posts`, as a create does. A test (tests/db/test_scale_fill.py)
checks a row made here equals one the API makes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from herald import queue
from herald.crypto import hash_api_token, new_api_token
from herald.models import ApiToken, Company, Post, SocialAccount, SocialToken, new_id, utcnow
from herald.runtime import Herald
from herald.schemas import PostCreate
from herald.services import audit
from herald.services.context import Context
from herald.services.posts import inspect_media, plan_posts

_INSERT_POST = insert(cast(Table, Post.__table__))
#: Platforms the fill spreads accounts over: each takes a text post with no media.
PLATFORMS = ("facebook", "linkedin")
CHUNK = 2000


@dataclass(frozen=True)
class Tenant:
    company_id: str
    token: str
    actor: str
    account_ids: list[str]


def add_companies(herald: Herald, companies: int, accounts: int) -> list[Tenant]:
    """`companies` companies with an owner token each and `accounts` accounts between them."""
    now = utcnow()
    tenants = []
    with herald.db.engine.begin() as conn:
        for c in range(companies):
            company_id, token = new_id(), new_api_token()
            conn.execute(insert(Company), [dict(
                id=company_id, name=f"Scale {c}", timezone="UTC", created_at=now)])
            conn.execute(insert(ApiToken), [dict(
                id=new_id(), company_id=company_id, name="scale",
                token_hash=hash_api_token(token), prefix=token[:12], created_at=now)])
            ids = [new_id() for _ in range(c, accounts, companies)]
            conn.execute(insert(SocialAccount), [dict(
                id=aid, company_id=company_id, platform=PLATFORMS[n % len(PLATFORMS)],
                external_id=f"acct-{c}-{n}", name=f"Account {c}-{n}", state="active",
                sandbox=False, created_at=now, updated_at=now) for n, aid in enumerate(ids)])
            conn.execute(insert(SocialToken), [dict(
                account_id=aid, access_token_enc=herald.cipher.encrypt(f"t-{aid}"),
                updated_at=now) for aid in ids])
            tenants.append(Tenant(company_id, token, f"token:{token[:12]}", ids))
    return tenants


def templates(herald: Herald, session: Session, tenant: Tenant, now: datetime
              ) -> dict[str, dict[str, Any]]:
    """One row per account, made by the API's planning code (checks included)."""
    ctx = herald.context(tenant.company_id, actor=tenant.actor)
    found = {a.id: a for a in session.connection().execute(
        select(cast(Table, SocialAccount.__table__))
        .where(SocialAccount.company_id == tenant.company_id))}
    inspected = inspect_media(ctx, [])
    out = {}
    for account_id in tenant.account_ids:
        data = PostCreate(account_id=account_id, post_type="text", caption="x",
                          run_at=now + timedelta(days=1))
        [row] = plan_posts(ctx, data, found, [], now + timedelta(days=1), inspected,
                           now=now)
        out[account_id] = row
    return out


def rows_like(template: dict[str, Any], *, caption: str, run_at: datetime,
              created_at: datetime) -> dict[str, Any]:
    return {**template, "id": new_id(), "group_id": new_id(), "caption": caption,
            "scheduled_at": run_at, "created_at": created_at, "updated_at": created_at}


def write(herald: Herald, session: Session, ctx: Context, rows: Sequence[dict[str, Any]],
          now: datetime) -> None:
    """What a create writes for these rows: posts, their queue rows, audit entries."""
    conn = session.connection()
    conn.execute(_INSERT_POST, list(rows))
    queue.enqueue_many(conn, [(r["id"], r["scheduled_at"]) for r in rows],
                       max_attempts=ctx.max_attempts, now=now)
    audit.record_posts(session, ctx, rows, now=now)


def fill(herald: Herald, tenants: Sequence[Tenant], posts: int, *, days: int = 365,
         seed: int = 18, due_at: datetime | None = None, progress: bool = False) -> None:
    """`posts` posts round-robin over the tenants' accounts, run_at spread over `days`
    (or all at `due_at`), created over the last 30 days in order."""
    rng = random.Random(seed)
    now = utcnow()
    accounts = [(t, a) for t in tenants for a in t.account_ids]
    with herald.db.session() as session:
        plans = {t.company_id: templates(herald, session, t, now) for t in tenants}
    contexts = {t.company_id: herald.context(t.company_id, actor=t.actor) for t in tenants}
    made = 0
    while made < posts:
        part = min(CHUNK, posts - made)
        by_company: dict[str, list[dict[str, Any]]] = {}
        for i in range(made, made + part):
            tenant, account_id = accounts[i % len(accounts)]
            run_at = due_at or now + timedelta(seconds=rng.uniform(3600, days * 86400))
            created = now - timedelta(days=30) + timedelta(seconds=30 * 86400 * i / posts)
            by_company.setdefault(tenant.company_id, []).append(rows_like(
                plans[tenant.company_id][account_id], caption=f"Scheduled post {i}",
                run_at=run_at, created_at=created))
        with herald.db.session() as session:
            for company_id, rows in by_company.items():
                write(herald, session, contexts[company_id], rows, rows[-1]["created_at"])
        made += part
        if progress and made % (CHUNK * 50) == 0:
            print(f"  filled {made}/{posts}", flush=True)


def tenants_of(herald: Herald) -> list[Tenant]:
    """The tenants of a database filled before (a new token each: only hashes are kept)."""
    now = utcnow()
    tenants = []
    with herald.db.engine.begin() as conn:
        for (company_id,) in conn.execute(select(Company.id).order_by(Company.name)):
            token = new_api_token()
            conn.execute(insert(ApiToken), [dict(
                id=new_id(), company_id=company_id, name="scale run",
                token_hash=hash_api_token(token), prefix=token[:12], created_at=now)])
            ids = list(conn.execute(select(SocialAccount.id)
                                    .where(SocialAccount.company_id == company_id)
                                    .order_by(SocialAccount.external_id)).scalars())
            tenants.append(Tenant(company_id, token, f"token:{token[:12]}", ids))
    return tenants


def count_posts(herald: Herald) -> int:
    with herald.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Post)).scalar_one())
