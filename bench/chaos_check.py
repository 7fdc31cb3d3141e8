"""The chaos test's verdict: the platform's own record against Herald's statuses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.chaos_db import SeededPost, Snapshot
from bench.chaos_fake import PLATFORMS as TABLE

PLATFORMS = tuple(p.name for p in TABLE)
#: Platforms whose unknown outcomes Herald can always settle (container status; LinkedIn's
#: DUPLICATE_POST; Bluesky's record key), so `unconfirmed` there is a bug.
RECONCILABLE = tuple(p.name for p in TABLE if p.reconcilable)
EXAMPLES = 5


@dataclass
class PlatformResult:
    platform: str
    posts: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    out_once: int = 0
    duplicated_posts: int = 0
    extra_copies: int = 0
    not_out: int = 0
    lost: int = 0
    id_mismatch: int = 0
    failed_but_out: int = 0
    unconfirmed_out: int = 0
    unconfirmed_not_out: int = 0
    stuck: int = 0
    dropped_applied: int = 0
    dropped_settled: int = 0
    commits: Counter[str] = field(default_factory=Counter)
    claims: list[int] = field(default_factory=list)
    examples: dict[str, list[str]] = field(default_factory=dict)
    #: Post ids by problem, for the journal dump.
    problem_ids: dict[str, list[str]] = field(default_factory=dict)

    def example(self, kind: str, post_id: str, text: str) -> None:
        self.problem_ids.setdefault(kind, []).append(post_id)
        items = self.examples.setdefault(kind, [])
        if len(items) < EXAMPLES:
            items.append(text)

    def as_dict(self) -> dict[str, Any]:
        return {
            "posts": self.posts, "statuses": dict(self.statuses), "out_once": self.out_once,
            "duplicated_posts": self.duplicated_posts, "extra_copies": self.extra_copies,
            "not_out": self.not_out, "lost": self.lost, "id_mismatch": self.id_mismatch,
            "failed_but_out": self.failed_but_out, "unconfirmed_out": self.unconfirmed_out,
            "unconfirmed_not_out": self.unconfirmed_not_out, "stuck": self.stuck,
            "dropped_applied": self.dropped_applied, "dropped_settled": self.dropped_settled,
            "commit_calls": dict(self.commits),
            "claims_mean": round(sum(self.claims) / len(self.claims), 2) if self.claims else 0,
            "claims_max": max(self.claims, default=0), "examples": self.examples,
        }


@dataclass
class Verdict:
    platforms: dict[str, PlatformResult]
    foreign_records: int
    invariants: list[tuple[str, bool, str]]

    @property
    def ok(self) -> bool:
        return all(passed for _, passed, _ in self.invariants)


def verify(seeded: Sequence[SeededPost], snap: Snapshot, published: list[dict[str, Any]],
           commits: list[dict[str, Any]]) -> PlatformResultMap:
    """Match every seeded post to what the fake recorded, by its unique caption."""
    by_caption: dict[str, list[dict[str, Any]]] = {}
    for record in published:
        by_caption.setdefault(str(record.get("caption") or ""), []).append(record)
    captions = {p.caption for p in seeded}
    foreign = sum(len(v) for k, v in by_caption.items() if k not in captions)
    results = {name: PlatformResult(name) for name in PLATFORMS}
    for call in commits:
        platform = str(call.get("platform"))
        if platform in results:
            outcome = str(call.get("outcome"))
            fault = call.get("fault")
            key = f"{outcome}:{fault}" if fault and outcome != "ok" else outcome
            results[platform].commits[key] += 1
    for post in seeded:
        _classify(results[post.platform], post, snap.posts.get(post.post_id),
                  by_caption.get(post.caption, []))
    return PlatformResultMap(results, foreign)


def _classify(r: PlatformResult, post: SeededPost, row: dict[str, Any] | None,
              records: list[dict[str, Any]]) -> None:
    pid = post.post_id
    r.posts += 1
    status = str(row["status"]) if row else "missing"
    r.statuses[status] += 1
    if row:
        r.claims.append(int(row["claims"] or 0))
    out = len(records)
    platform_ids = {x.get("external_id") for x in records}
    herald_id = row["external_post_id"] if row else None
    error = row["error_message"] if row else None
    if out == 1:
        r.out_once += 1
    elif out > 1:
        r.duplicated_posts += 1
        r.extra_copies += out - 1
        r.example("duplicate", pid, f"{pid} {status} x{out}: "
                  + ", ".join(str(x.get("external_id")) for x in records))
    else:
        r.not_out += 1
    if any(x.get("dropped") for x in records):
        r.dropped_applied += 1
        if status == "published" and herald_id in platform_ids:
            r.dropped_settled += 1
    if status in ("pending", "processing", "missing"):
        r.stuck += 1
        r.example("stuck", pid, f"{pid} {status} queue={row and row['queue_status']}")
    elif status == "published":
        if out == 0:
            r.lost += 1
            r.example("lost", pid, f"{pid} external_post_id={herald_id}")
        elif herald_id not in platform_ids:
            r.id_mismatch += 1
            r.example("id_mismatch", pid, f"{pid} herald={herald_id} "
                      f"platform={records[0].get('external_id')}")
    elif status == "failed":
        if out:
            r.failed_but_out += 1
            r.example("failed_but_out", pid, f"{pid} out={out}: {error}")
        else:
            r.example("failed", pid, f"{pid}: {error}")
    elif status == "unconfirmed":
        if out:
            r.unconfirmed_out += 1
        else:
            r.unconfirmed_not_out += 1
        r.example("unconfirmed", pid, f"{pid} out={out}: {error}")


@dataclass
class PlatformResultMap:
    platforms: dict[str, PlatformResult]
    foreign_records: int


def judge(found: PlatformResultMap, *, unexpected_exits: int, restart_planned: bool,
          restart_ok: bool, timed_out: bool) -> Verdict:
    """The invariants; any that fails makes the chaos test exit non-zero."""
    r = found.platforms

    def total(attr: str) -> int:
        return sum(int(getattr(x, attr)) for x in r.values())

    def per(attr: str) -> str:
        return ", ".join(f"{name} {getattr(x, attr)}" for name, x in r.items()
                         if getattr(x, attr))

    failed = {name: x.statuses.get("failed", 0) for name, x in r.items()}
    unconfirmed_bad = {name: r[name].statuses.get("unconfirmed", 0) for name in RECONCILABLE}
    invariants: list[tuple[str, bool, str]] = [
        ("no post went out twice (fake's record, by caption)", total("duplicated_posts") == 0,
         f"{total('duplicated_posts')} posts, {total('extra_copies')} extra copies "
         f"({per('duplicated_posts')})"),
        ("no post Herald calls published is missing on the platform", total("lost") == 0,
         f"{total('lost')} ({per('lost')})"),
        ("no post left pending/processing", total("stuck") == 0 and not timed_out,
         f"{total('stuck')} stuck{' (time cap reached)' if timed_out else ''}"),
        ("Herald's external id is the platform's for every published post",
         total("id_mismatch") == 0, f"{total('id_mismatch')} ({per('id_mismatch')})"),
        ("no post Herald calls failed went out", total("failed_but_out") == 0,
         f"{total('failed_but_out')} ({per('failed_but_out')})"),
        ("0 unconfirmed where Herald can always settle (" + ", ".join(RECONCILABLE) + ")",
         sum(unconfirmed_bad.values()) == 0,
         ", ".join(f"{k} {v}" for k, v in unconfirmed_bad.items())),
        ("every post published (Facebook: or unconfirmed)", sum(failed.values()) == 0,
         "failed: " + ", ".join(f"{k} {v}" for k, v in failed.items())),
        ("no record on the platform that Herald did not schedule", found.foreign_records == 0,
         str(found.foreign_records)),
        ("no worker exited on its own (DB restart included)", unexpected_exits == 0,
         f"{unexpected_exits} unexpected exits"),
    ]
    if restart_planned:
        invariants.append(("the database server was restarted mid-run", restart_ok,
                           "done" if restart_ok else "not done or failed"))
    return Verdict(r, found.foreign_records, invariants)


def table(verdict: Verdict) -> str:
    """The per-platform summary, as fixed-width text."""
    rows: list[tuple[str, str]] = [
        ("posts", "posts"), ("published", "s:published"), ("unconfirmed", "s:unconfirmed"),
        ("  of which out", "unconfirmed_out"), ("  of which not out", "unconfirmed_not_out"),
        ("failed", "s:failed"), ("  of which out", "failed_but_out"),
        ("stuck (pending/processing)", "stuck"),
        ("out exactly once", "out_once"), ("not out", "not_out"),
        ("DUPLICATED posts", "duplicated_posts"), ("LOST (published, not out)", "lost"),
        ("external id mismatch", "id_mismatch"),
        ("commits applied, answer dropped", "dropped_applied"),
        ("  settled as published", "dropped_settled"),
        ("commit calls ok", "c:ok"), ("commit calls dropped", "c:dropped:drop"),
        ("commit calls faulted", "c:fault"), ("commit calls refused", "c:error"),
        ("claims per post (mean)", "m:claims"), ("claims per post (max)", "x:claims"),
    ]
    names = list(verdict.platforms)
    width = 34
    lines = [f"{'':<{width}}" + "".join(f"{n:>16}" for n in names) + f"{'total':>16}"]
    for label, key in rows:
        values: list[float] = []
        for name in names:
            values.append(_value(verdict.platforms[name], key))
        if key.startswith(("m:", "x:")):
            all_claims = [c for x in verdict.platforms.values() for c in x.claims]
            total: float = (sum(all_claims) / len(all_claims) if all_claims else 0.0) \
                if key.startswith("m:") else float(max(all_claims, default=0))
            cells = "".join(f"{v:>16.2f}" if key.startswith("m:") else f"{int(v):>16d}"
                            for v in [*values, total])
        else:
            cells = "".join(f"{int(v):>16d}" for v in [*values, sum(values)])
        lines.append(f"{label:<{width}}{cells}")
    return "\n".join(lines)


def _value(r: PlatformResult, key: str) -> float:
    if key.startswith("s:"):
        return r.statuses.get(key[2:], 0)
    if key.startswith("c:"):
        want = key[2:]
        if want in ("fault", "error"):
            return sum(v for k, v in r.commits.items() if k.startswith(want))
        return r.commits.get(want, 0)
    if key.startswith("m:"):
        return sum(r.claims) / len(r.claims) if r.claims else 0.0
    if key.startswith("x:"):
        return max(r.claims, default=0)
    return float(getattr(r, key))
