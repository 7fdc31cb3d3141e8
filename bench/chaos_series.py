"""The chaos test's recurring posts: series that the workers' own planning passes expand
while workers are SIGKILLed, each occurrence then published exactly once.

A series is seeded as its create would store it but with no occurrence made yet, so the
workers (HERALD_PLANNING_INTERVAL=1) race to expand it. Its rule, daily with a count of
two, gives one occurrence due within the run and one tomorrow: the first is checked
like every seeded post (by its unique caption, on the platform's own record), and each
series must end with exactly its two occurrence posts (none twice, none missing).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, select

from bench.chaos_db import SeededPost
from bench.chaos_fake import Account, post_shape
from bench.common import settings_for
from herald.db import Database
from herald.models import Post, PostSeries, new_id, utcnow

series_t = cast(Table, PostSeries.__table__)
posts_t = cast(Table, Post.__table__)
RULE = "FREQ=DAILY;COUNT=2"
OCCURRENCES = 2
#: The first occurrence is due this long after seeding at the earliest: the workers are
#: up and planning by then (an occurrence found already past is skipped, not sent late).
LEAD_SECONDS = 20.0
#: Queue rows due later than this after seeding (the series' second occurrences) do not
#: keep the run going.
HORIZON = timedelta(hours=1)


def caption_for(tag: str, index: int, platform: str, account: Account) -> str:
    return (f"Chaos run {tag} series {index:04d} for {platform} account "
            f"{account.external_id.rsplit(':', 1)[-1]}. Exactly once, please.")


def seed_series(url: str, company_id: str, accounts: Sequence[Account],
                account_ids: Sequence[str], *, count: int, spread: float, image_url: str,
                tag: str, seed: int) -> dict[str, tuple[Account, str]]:
    """`count` recurring series round-robin over the accounts: series id → (account,
    caption)."""
    rng = random.Random(seed + 1)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    made: dict[str, tuple[Account, str]] = {}
    pairs = list(zip(accounts, account_ids, strict=True))
    for i in range(count):
        account, account_id = pairs[i % len(pairs)]
        caption = caption_for(tag, i, account.platform, account)
        starts = (now + timedelta(seconds=LEAD_SECONDS + rng.uniform(0.0, spread))
                  ).replace(microsecond=0)
        post_type, media = post_shape(account.platform, image_url)
        series_id = new_id()
        rows.append(dict(
            id=series_id, company_id=company_id, kind="recurring", account_ids=[account_id],
            post_type=post_type, caption=caption, media=media, options={}, rule=RULE,
            timezone="UTC", starts_at=starts, expanded_until=None, categories=[],
            stopped_at=None, created_by="chaos", created_at=now, updated_at=now))
        made[series_id] = (account, caption)
    if rows:
        db = Database.from_settings(settings_for(url))
        try:
            with db.engine.begin() as conn:
                conn.execute(series_t.insert(), rows)
        finally:
            db.dispose()
    return made


def first_occurrences(engine: Engine, series: dict[str, tuple[Account, str]]
                      ) -> tuple[list[SeededPost], list[tuple[str, bool, str]]]:
    """The first occurrence of each series, to check as a seeded post; and two invariants:
    no occurrence made twice (safety), and every series with all its occurrences (a
    liveness check: an occurrence no planning pass reached until it had passed is skipped
    by design, not sent late, which a machine too loaded to plan in time shows)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(posts_t.c.id, posts_t.c.series_id, posts_t.c.occurrence_at)
            .where(posts_t.c.series_id.in_(list(series)))
            .order_by(posts_t.c.series_id, posts_t.c.occurrence_at)).all()
    per_series = Counter(r.series_id for r in rows)
    twice = [k for k, n in Counter((r.series_id, r.occurrence_at) for r in rows).items()
             if n > 1]
    seeded: list[SeededPost] = []
    seen: set[str] = set()
    for row in rows:
        if row.series_id in seen:
            continue
        seen.add(row.series_id)
        account, caption = series[row.series_id]
        seeded.append(SeededPost(row.id, account.platform, account.external_id, caption))
    wrong = {s: per_series.get(s, 0) for s in series if per_series.get(s, 0) != OCCURRENCES}
    detail = (f"{len(series)} series, {len(rows)} occurrence posts"
              + (f"; wrong counts: {dict(list(wrong.items())[:5])}" if wrong else ""))
    return seeded, [
        ("no series occurrence made twice", not twice,
         f"{len(twice)} occurrences made more than once"
         + (f": {[(s[:8], str(at)) for s, at in twice[:3]]}" if twice else "")),
        (f"every series expanded once ({OCCURRENCES} posts each, by the workers' "
         "planning passes)", not wrong, detail)]
