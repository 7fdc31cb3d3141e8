"""The journal (`publish_attempts`) read back: what earlier attempts at a post left.

Each attempt journals the phase it reached and the platform ids it obtained. Before a
post is tried again, its journal is merged oldest to newest into a `History`: the ids to
reuse, and whether an earlier commit may be out (then the attempt reconciles first).
Pure: the rows come from herald.queue.store.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from herald.platforms.base import History, Journal
from herald.statuses import AttemptOutcome, Phase

__all__ = ["PAST_RECONCILIATION", "UNKNOWN_ENDINGS", "AttemptOutcome", "History", "Journal",
           "JournalRow", "Phase", "histories"]

#: How an attempt that reached its commit can end without knowing whether it went out.
UNKNOWN_ENDINGS = frozenset({AttemptOutcome.LEASE_EXPIRED, AttemptOutcome.RETRY,
                             AttemptOutcome.UNCONFIRMED})
#: Journal phases only written after reconciliation let the attempt go on.
PAST_RECONCILIATION = frozenset({Phase.COMMITTING, Phase.REFUSED, Phase.COMMITTED,
                                 Phase.RECONCILED, Phase.COMMENTING, Phase.COMMENTED})
#: Phases only written once the post itself is out (its first comment's step).
POST_OUT = frozenset({Phase.COMMENTING, Phase.COMMENTED})
_E = TypeVar("_E", Phase, AttemptOutcome)

#: Outcomes that settle the post whatever phase their attempt reached.
_SETTLING = frozenset({AttemptOutcome.PUBLISHED, AttemptOutcome.CANCELLED})


class JournalRow(Protocol):
    """One attempt's journal row, as the store reads it."""

    @property
    def post_id(self) -> str: ...
    @property
    def phase(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def platform_ids(self) -> Mapping[str, Any] | None: ...


@dataclass
class _Merged:
    ids: dict[str, Any]
    unsettled_commit: bool = False
    commit_cut_off: bool = False
    last_phase: str | None = None
    last_outcome: str | None = None
    post_out: bool = False

    def add(self, row: JournalRow) -> None:
        self.ids.update(row.platform_ids or {})
        if row.outcome == AttemptOutcome.RUNNING:
            return
        # Published, or stopped while commenting: what is left is the first comment.
        self.post_out = self.post_out or row.outcome == AttemptOutcome.PUBLISHED \
            or row.phase in POST_OUT
        self.last_phase, self.last_outcome = row.phase, row.outcome
        # A commit whose result nobody learned stays unsettled until a later attempt
        # gets past reconciliation (reaches its own commit) or settles the post. An
        # attempt that died or failed before that (while reconciling, say) settles
        # nothing: forgetting the earlier commit there would post twice.
        if row.phase == Phase.COMMITTING:
            # Its worker stopped (or lost its lease) before the call was answered: the
            # call may still be on the wire. An answered call, even a 5xx, is over.
            self.commit_cut_off = row.outcome == AttemptOutcome.LEASE_EXPIRED
        if row.phase == Phase.COMMITTING and row.outcome in UNKNOWN_ENDINGS:
            self.unsettled_commit = True
        elif row.phase in PAST_RECONCILIATION or row.outcome in _SETTLING:
            self.unsettled_commit = False

    def freeze(self, final_check: bool) -> History:
        ids = dict(self.ids)
        committing_at = _parse_time(ids.pop("committing_at", None))
        return History(ids=ids, unsettled_commit=self.unsettled_commit,
                       commit_cut_off=self.commit_cut_off, committing_at=committing_at,
                       final_check=final_check, post_out=self.post_out,
                       last_phase=_enum(Phase, self.last_phase),
                       last_outcome=_enum(AttemptOutcome, self.last_outcome))


def histories(rows: Iterable[JournalRow], *, final_check: Collection[str] = ()
              ) -> dict[str, History]:
    """Each post's journal rows (by post, oldest attempt first) merged into its History.

    `final_check` names the posts whose next attempt only checks the platform (see
    herald.queue.policy.is_final_check).
    """
    final_check = set(final_check)
    merged: dict[str, _Merged] = {}
    for row in rows:
        entry = merged.get(row.post_id)
        if entry is None:
            entry = merged[row.post_id] = _Merged(ids={})
        entry.add(row)
    for post_id in final_check:
        merged.setdefault(post_id, _Merged(ids={}))
    return {pid: m.freeze(pid in final_check) for pid, m in merged.items()}


def _parse_time(value: object) -> datetime | None:
    """A journaled `committing_at`: Journal.committing writes it with isoformat()."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _enum(kind: type[_E], value: str | None) -> _E | None:
    try:
        return kind(value) if value is not None else None
    except ValueError:
        return None  # a phase an older Herald wrote
