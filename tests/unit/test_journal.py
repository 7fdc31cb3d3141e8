"""The journal read back into a History, and the typed Journal clients record with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import pytest

from herald.platforms.base import History, Journal
from herald.queue.journal import histories
from herald.statuses import AttemptOutcome, Phase


class Row(NamedTuple):
    post_id: str
    phase: str
    outcome: str
    platform_ids: dict[str, Any] | None = None


def history(*rows: tuple[Any, ...], final: tuple[str, ...] = ()) -> History:
    return histories([Row("p", *r) for r in rows], final_check=final)["p"]


def test_ids_merge_oldest_to_newest_and_committing_at_becomes_a_time():
    h = history(("prepared", "retry", {"container_id": "C1", "children": ["K1"]}),
                ("committing", "lease_expired",
                 {"container_id": "C2", "committing_at": "2026-03-01T12:00:20+00:00"}))
    assert dict(h.ids) == {"container_id": "C2", "children": ["K1"]}
    assert h.committing_at == datetime(2026, 3, 1, 12, 0, 20, tzinfo=UTC)
    assert (h.last_phase, h.last_outcome) == (Phase.COMMITTING, AttemptOutcome.LEASE_EXPIRED)


@pytest.mark.parametrize("value", ["x", "2026-03-01T12:00:20", 17, None])
def test_an_unreadable_or_naive_committing_at_is_no_time(value):
    assert history(("committing", "retry", {"committing_at": value})).committing_at is None


def test_the_ids_are_read_only():
    h = history(("prepared", "retry", {"container_id": "C1"}))
    with pytest.raises(TypeError):
        h.ids["container_id"] = "C2"  # type: ignore[index]


@pytest.mark.parametrize(("ending", "cut_off"), [
    ("lease_expired", True),  # the worker stopped: the call may still be on the wire
    ("retry", False),  # answered (a 5xx, a timeout mapped to outcome-unknown)
    ("unconfirmed", False),
])
def test_a_commit_without_a_known_result_is_unsettled(ending, cut_off):
    h = history(("committing", ending))
    assert h.unsettled_commit is True
    assert h.commit_cut_off is cut_off


@pytest.mark.parametrize("later", [
    ("claimed", "lease_expired"),  # died while reconciling
    ("claimed", "retry"),  # the check itself failed
    ("prepared", "failed"),
])
def test_an_attempt_that_stops_before_reconciliation_settles_nothing(later):
    assert history(("committing", "lease_expired"), later).unsettled_commit is True


@pytest.mark.parametrize("later", [
    ("refused", "retry"),  # got past reconciliation to its own commit, refused
    ("committed", "published"),
    ("reconciled", "published"),
    ("claimed", "cancelled"),
    ("committing", "published"),
])
def test_an_attempt_past_reconciliation_or_a_settled_post_settles_the_commit(later):
    assert history(("committing", "lease_expired"), later).unsettled_commit is False


def test_a_running_attempt_brings_its_ids_but_not_its_phase():
    h = history(("committing", "retry"), ("committing", "running", {"photo_ids": ["1"]}))
    assert h.ids["photo_ids"] == ["1"]
    assert (h.last_outcome, h.unsettled_commit) == (AttemptOutcome.RETRY, True)


def test_a_later_answered_commit_is_no_longer_cut_off():
    h = history(("committing", "lease_expired"), ("committing", "retry"))
    assert h.unsettled_commit and not h.commit_cut_off


def test_the_final_check_is_marked_even_without_journal_rows():
    assert histories([], final_check=["p"]) == {"p": History(final_check=True)}
    assert history(("committing", "lease_expired"), final=("p",)).final_check is True
    assert history(("committing", "lease_expired")).final_check is False


def test_each_post_gets_its_own_history():
    got = histories([Row("a", "committing", "lease_expired"),
                     Row("b", "prepared", "retry", {"container_id": "B"})])
    assert got["a"].unsettled_commit and not got["b"].unsettled_commit
    assert dict(got["b"].ids) == {"container_id": "B"}


def test_a_phase_an_older_herald_wrote_is_no_phase():
    assert history(("uploading", "retry")).last_phase is None


async def test_the_journal_records_each_phase_with_its_ids():
    entries: list[tuple[Phase, dict[str, Any]]] = []

    async def record(phase: Phase, ids: dict[str, Any]) -> None:
        entries.append((phase, ids))

    journal = Journal(record)
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    await journal.prepared(container_id="C1")
    await journal.committing(at=at, container_id="C1")
    await journal.committed("M1", container_id="C1")
    assert entries == [
        (Phase.PREPARED, {"container_id": "C1"}),
        (Phase.COMMITTING, {"container_id": "C1", "committing_at": at.isoformat()}),
        (Phase.COMMITTED, {"external_id": "M1", "container_id": "C1"}),
    ]
    # What `committing` wrote reads back as the same time.
    assert history(("committing", "retry", entries[1][1])).committing_at == at


def test_a_published_attempt_or_one_stopped_while_commenting_leaves_the_post_out():
    assert not history(("committing", "lease_expired")).post_out
    stopped = history(("commenting", "lease_expired",
                       {"external_id": "E1", "first_comment_at": "t"}))
    # Out, and settled: the next attempt comments (looking first), it never posts again.
    assert stopped.post_out and not stopped.unsettled_commit
    assert dict(stopped.ids)["external_id"] == "E1"
    failed_comment = history(("committed", "published", {"first_comment_error": "no"}))
    assert failed_comment.post_out and not failed_comment.unsettled_commit
