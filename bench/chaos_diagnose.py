"""Evidence for the chaos test's failures: Herald's journal beside the platform's commit log.

For every post that went out more than once, `duplicate_cause` names the mechanism from
the two records alone, so a failing run says *why* as well as *how many*.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from bench.chaos_db import JournalRow, posts_t, schedule_t
from herald.models import utcnow

#: Commit outcomes in the fake's log for calls that the platform applied.
APPLIED = ("ok", "dropped")


def _hms(value: datetime | None) -> str:
    return value.strftime("%H:%M:%S.%f")[:-3] if value else "-"


def format_journal(rows: Sequence[JournalRow]) -> list[str]:
    return [
        f"#{r.attempt} {r.worker_id} {_hms(r.started_at)}..{_hms(r.finished_at)} "
        f"phase={r.phase} outcome={r.outcome}"
        + (f" error={r.error_code}" if r.error_code else "")
        + (f" committing_at={_hms(r.committing_at)}" if r.committing_at else "")
        + (f" external_id={r.external_id}" if r.external_id else "")
        for r in rows]


def format_commits(calls: Sequence[dict[str, Any]]) -> list[str]:
    return [
        f"platform commit {str(c.get('at'))[11:23]} outcome={c.get('outcome')}"
        + (f" fault={c['fault']}" if c.get("fault") else "")
        + (f" external_id={c['external_id']}" if c.get("external_id") else "")
        for c in calls]


def _at(call: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(call.get("at")))
    except ValueError:
        return None


def duplicate_causes(rows: Sequence[JournalRow], calls: Sequence[dict[str, Any]]) -> list[str]:
    """One cause per extra copy of a post (every applied commit after the first)."""
    applied = sorted((c for c in calls if c.get("outcome") in APPLIED),
                     key=lambda c: str(c.get("at")))
    causes: list[str] = []
    for call in applied[1:]:
        at = _at(call)
        senders = [(r.committing_at, r) for r in rows if r.committing_at is not None
                   and at is not None and r.committing_at <= at]
        if not senders:
            causes.append("no attempt had recorded 'committing' before this commit")
            continue
        sender = max(senders, key=lambda pair: pair[0])[1]
        if (sender.outcome == "lease_expired" and sender.finished_at is not None
                and sender.committing_at is not None
                and sender.committing_at > sender.finished_at):
            causes.append("stale worker: it committed after its lease had been rescued "
                          "(nothing checks the lease before the commit)")
            continue
        prior = [r for r in rows if r.attempt < sender.attempt and r.outcome != "running"]
        last = prior[-1] if prior else None
        if any(r.phase == "committed" and r.outcome == "lease_expired" for r in prior):
            causes.append("an earlier attempt reached phase 'committed', then its lease "
                          "expired; the next attempt did not reconcile")
        elif last is not None and last.phase != "committing" and any(
                r.phase == "committing" for r in prior):
            causes.append(f"reconcile need lost: the attempt before the resend ended in "
                          f"phase '{last.phase}' ({last.outcome}), so the earlier "
                          "'committing' was no longer looked at")
        elif last is not None and last.phase == "committing":
            causes.append("reconciled after an unknown commit, found nothing, sent again")
        else:
            causes.append("other")
    return causes


def cause_counts(by_post: dict[str, list[str]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for causes in by_post.values():
        counts.update(causes)
    return dict(counts.most_common())


def still_open(engine: Engine, alive: set[str], *, before: datetime) -> list[str]:
    """Why each post still pending or processing is (when the run stops at its time cap):
    whose lease it is under, whether that worker still lives, when it is next due. A lease
    that ran out long ago and was not rescued would be a rescue bug; a post claimed by a
    live worker, a lease not yet run out, or a retry not yet due is a run ended too early."""
    now = utcnow()
    with engine.connect() as conn:
        rows = conn.execute(
            select(schedule_t.c.post_id, schedule_t.c.status, schedule_t.c.worker_id,
                   schedule_t.c.lease_expires_at, schedule_t.c.run_at,
                   schedule_t.c.attempts, schedule_t.c.rescues, posts_t.c.origin)
            .join(posts_t, posts_t.c.id == schedule_t.c.post_id)
            .where(schedule_t.c.status.in_(["pending", "processing"]),
                   schedule_t.c.run_at < before)
            .order_by(schedule_t.c.run_at)).all()
    lines = []
    for r in rows:
        line = (f"{r.post_id[:8]} {r.origin or 'timed'} {r.status} attempts {r.attempts} "
                f"rescues {r.rescues}")
        if r.status == "processing":
            lease = (_aware(r.lease_expires_at) - now).total_seconds()
            line += (f", claimed by {r.worker_id} ("
                     f"{'alive' if r.worker_id in alive else 'SIGKILLed'}), lease "
                     + (f"runs out in {lease:.1f}s" if lease >= 0 else
                        f"ran out {-lease:.1f}s ago"))
        else:
            due = (_aware(r.run_at) - now).total_seconds()
            line += f", due in {due:.1f}s" if due > 0 else f", due {-due:.1f}s ago"
        lines.append(line)
    return lines


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
