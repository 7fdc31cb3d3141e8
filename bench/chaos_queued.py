"""The chaos test's queued posts: "Add to queue" (`"run_at": "next_slot"`) on accounts with
a posting schedule, each then published exactly once while workers are SIGKILLed.

Every account gets a posting schedule in Europe/Berlin with one slot a minute, the first
LEAD_SECONDS after seeding, and the posts are made through the use case `POST
/api/v1/posts` calls (`services.create_posts` with run_at "next_slot"), round-robin over
the accounts, so each takes its account's next free slot under the account's row lock.
Each is then checked like every seeded post (its caption is unique, found on the
platform's own record), and a further check requires every queued post to hold a slot
of its own: on a minute of its account's schedule, none shared, its queue row due then.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, select

from bench.chaos_db import SeededPost
from bench.chaos_fake import Account, post_shape
from bench.common import settings_for
from herald import services
from herald.models import Post, PostSchedule, utcnow
from herald.planning import schedules
from herald.planning.schemas import ScheduleIn, SlotIn
from herald.runtime import Herald
from herald.schemas import MediaIn, PostCreate

posts_t = cast(Table, Post.__table__)
schedule_t = cast(Table, PostSchedule.__table__)
ZONE = "Europe/Berlin"
#: The first slot comes up at least this long after seeding: the posts are made (the
#: Instagram ones fetch and probe their image) and the workers are up by then.
LEAD_SECONDS = 40.0
#: Slots beyond those the posts need: a slow create that finds its first slot passed
#: takes the next one, still within the run.
SPARE_SLOTS = 3


def caption_for(tag: str, index: int, account: Account) -> str:
    return (f"Chaos run {tag} queued {index:04d} for {account.platform} account "
            f"{account.external_id.rsplit(':', 1)[-1]}. Exactly once, please.")


def slot_minutes(now: datetime, count: int) -> list[datetime]:
    """`count` whole minutes (UTC), the first at least LEAD_SECONDS after `now`."""
    first = now + timedelta(seconds=LEAD_SECONDS)
    first = first.replace(second=0, microsecond=0) + (
        timedelta(minutes=1) if first.second or first.microsecond else timedelta())
    return [first + timedelta(minutes=n) for n in range(count)]


def seed_queued(url: str, company_id: str, accounts: Sequence[Account],
                account_ids: Sequence[str], *, count: int, max_attempts: int, image_url: str,
                tag: str) -> list[SeededPost]:
    """Schedules for every account, then `count` posts added to their queues."""
    if count <= 0:
        return []
    herald = Herald.build(settings_for(url, max_attempts=max_attempts))
    try:
        ctx = herald.context(company_id, actor="chaos")
        per_account = math.ceil(count / len(accounts)) + SPARE_SLOTS
        berlin = ZoneInfo(ZONE)
        slots = [SlotIn(weekday=at.astimezone(berlin).strftime("%a").lower(),
                        time=at.astimezone(berlin).strftime("%H:%M"))
                 for at in slot_minutes(utcnow(), per_account)]
        with herald.unit_of_work() as session:
            for account_id in account_ids:
                schedules.set_schedule(session, ctx, account_id,
                                       ScheduleIn(timezone=ZONE, slots=slots))
        seeded: list[SeededPost] = []
        pairs = list(zip(accounts, account_ids, strict=True))
        for i in range(count):
            account, account_id = pairs[i % len(pairs)]
            caption = caption_for(tag, i, account)
            post_type, media = post_shape(account.platform, image_url)
            with herald.unit_of_work() as session:
                [post] = services.create_posts(session, ctx, PostCreate(
                    account_id=account_id, caption=caption, run_at="next_slot",
                    media=[MediaIn(**m) for m in media], post_type=post_type))
            seeded.append(SeededPost(post.id, account.platform, account.external_id,
                                     caption))
        return seeded
    finally:
        herald.db.dispose()


def latest_slot(engine: Engine, queued: Sequence[SeededPost]) -> datetime | None:
    """When the last queued post's slot comes up (the run waits for it)."""
    if not queued:
        return None
    with engine.connect() as conn:
        return conn.execute(select(posts_t.c.queue_slot).where(
            posts_t.c.id.in_([p.post_id for p in queued]))
            .order_by(posts_t.c.queue_slot.desc()).limit(1)).scalar()


def slots_invariant(engine: Engine, queued: Sequence[SeededPost]) -> tuple[str, bool, str]:
    """Every queued post held a slot of its own, on a minute, its queue row due then."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(posts_t.c.id, posts_t.c.account_id, posts_t.c.origin,
                   posts_t.c.queue_slot, schedule_t.c.run_at)
            .join(schedule_t, schedule_t.c.post_id == posts_t.c.id, isouter=True)
            .where(posts_t.c.id.in_([p.post_id for p in queued]))).all()
    shared = {k: n for k, n in Counter((r.account_id, r.queue_slot) for r in rows).items()
              if n > 1}
    wrong = [r.id for r in rows
             if r.origin != "queue" or r.queue_slot is None or r.run_at is None
             or _utc(r.queue_slot).second or _utc(r.run_at) < _utc(r.queue_slot)]
    detail = (f"{len(rows)} of {len(queued)} queued posts found, "
              f"{len({(r.account_id, r.queue_slot) for r in rows})} slots held"
              + (f"; shared: {list(shared.items())[:3]}" if shared else "")
              + (f"; not in a slot: {wrong[:3]}" if wrong else ""))
    ok = len(rows) == len(queued) and not shared and not wrong
    return ("every queued post held its own slot of its account's schedule", ok, detail)


def _utc(value: datetime) -> datetime:
    """MariaDB and SQLite hand back naive UTC datetimes; PostgreSQL aware ones."""
    return value.replace(tzinfo=None) if value.tzinfo is None else (
        value.astimezone(ZoneInfo("UTC")).replace(tzinfo=None))
