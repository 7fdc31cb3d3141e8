"""The queue's decisions, without a database: retries, backoff, rescues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from herald.platforms.base import History
from herald.queue import policy
from herald.queue.claims import Claim, Outcome
from herald.queue.policy import MAX_RESCUES, Expired, Held, Retry, decide, decide_rescue
from herald.statuses import AttemptOutcome, PostStatus, QueueStatus

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLAIM = Claim("p1", 2, "w1")
#: rand 0.5: the delay is 0.75 of the ceiling.
RETRY = Retry(base_seconds=10, max_seconds=1000, rand=lambda: 0.5)


def outcome(kind: str, **kw: object) -> Outcome:
    return Outcome(CLAIM, AttemptOutcome(kind), error_message="HTTP 503", **kw)  # type: ignore[arg-type]


def held(attempt: int = 2, max_attempts: int = 3, cancel: bool = False) -> Held:
    return Held(attempt, max_attempts, cancel)


# --- backoff ----------------------------------------------------------------------------


@pytest.mark.parametrize(("attempt", "rand", "expected"), [
    (1, 0.0, 5.0),  # base·2^0 · 0.5
    (2, 0.5, 15.0),  # base·2^1 · 0.75
    (3, 1.0, 40.0),  # base·2^2 · 1.0
    (20, 0.0, 500.0),  # capped at 1000, · 0.5
])
def test_backoff_doubles_per_attempt_up_to_the_cap_with_jitter(attempt, rand, expected):
    assert policy.backoff_seconds(attempt, base=10, cap=1000, rand=lambda: rand) == expected


def test_a_retry_runs_after_its_backoff():
    decision = decide(outcome("retry"), held(attempt=2), now=NOW, retry=RETRY)
    assert decision.kind == AttemptOutcome.RETRY
    assert decision.run_at == NOW + timedelta(seconds=15)
    assert decision.message == "HTTP 503"


def test_a_retry_never_runs_before_the_platform_allows():
    later = NOW + timedelta(minutes=5)
    decision = decide(outcome("retry", not_before=later), held(), now=NOW, retry=RETRY)
    assert decision.run_at == later


def test_a_not_before_earlier_than_the_backoff_changes_nothing():
    sooner = NOW + timedelta(seconds=1)
    decision = decide(outcome("retry", not_before=sooner), held(), now=NOW, retry=RETRY)
    assert decision.run_at == NOW + timedelta(seconds=15)


# --- outcome rewriting ------------------------------------------------------------------


def test_a_retry_out_of_attempts_fails_saying_how_many():
    decision = decide(outcome("retry"), held(attempt=3, max_attempts=3), now=NOW, retry=RETRY)
    assert (decision.kind, decision.run_at) == (AttemptOutcome.FAILED, None)
    assert decision.message == "HTTP 503 (gave up after 3 attempts)"
    assert (decision.post_status, decision.queue_status) == (PostStatus.FAILED,
                                                             QueueStatus.FAILED)


def test_a_retry_out_of_attempts_whose_commit_may_be_out_is_unconfirmed_not_failed():
    decision = decide(outcome("retry", unknown=True), held(attempt=3, max_attempts=3),
                      now=NOW, retry=RETRY)
    assert decision.kind == AttemptOutcome.UNCONFIRMED
    assert decision.post_status == PostStatus.UNCONFIRMED


@pytest.mark.parametrize("kind", ["retry", "failed"])
def test_a_cancel_requested_meanwhile_wins_over_a_retry_or_a_failure(kind):
    decision = decide(outcome(kind), held(cancel=True), now=NOW, retry=RETRY)
    assert (decision.kind, decision.message) == (AttemptOutcome.CANCELLED,
                                                 "Cancelled before it was sent.")
    assert (decision.post_status, decision.queue_status) == (PostStatus.CANCELLED,
                                                             QueueStatus.CANCELLED)


def test_a_cancel_does_not_hide_a_commit_that_may_be_out():
    decision = decide(outcome("retry", unknown=True), held(cancel=True), now=NOW, retry=RETRY)
    assert decision.kind == AttemptOutcome.RETRY


def test_a_cancel_after_the_post_went_out_leaves_it_published_and_says_so():
    decision = decide(outcome("published"), held(cancel=True), now=NOW, retry=RETRY)
    assert (decision.kind, decision.queue_status) == (AttemptOutcome.PUBLISHED,
                                                      QueueStatus.DONE)
    assert "stays published" in (decision.message or "")


def test_a_published_outcome_is_kept_as_it_is():
    decision = decide(Outcome(CLAIM, AttemptOutcome.PUBLISHED, external_id="1"), held(),
                      now=NOW, retry=RETRY)
    assert (decision.kind, decision.message, decision.run_at) == (
        AttemptOutcome.PUBLISHED, None, None)


# --- rescue -----------------------------------------------------------------------------


def test_the_final_check_starts_at_the_rescue_limit():
    assert not policy.is_final_check(MAX_RESCUES - 1)
    assert policy.is_final_check(MAX_RESCUES)


def test_a_lease_lost_before_publishing_started_goes_back_uncounted():
    # One short of the limit: counted, either would reach it.
    rescue = decide_rescue([Expired("a", MAX_RESCUES - 1, "claimed"),
                            Expired("b", MAX_RESCUES - 1, None)], {})
    assert rescue.requeue == ("a", "b") and rescue.requeue_counted == () and not rescue.dead


def test_a_lease_lost_while_publishing_counts_towards_the_limit():
    rescue = decide_rescue([Expired("a", 0, "prepared"),
                            Expired("b", MAX_RESCUES - 2, "committing")], {})
    assert rescue.requeue_counted == ("a", "b") and rescue.requeue == ()


def test_at_the_limit_a_post_that_cannot_be_out_fails():
    rescue = decide_rescue([Expired("a", MAX_RESCUES - 1, "prepared")], {})
    assert (rescue.failed, rescue.back, rescue.unconfirmed) == (("a",), (), ())


def test_at_the_limit_a_post_lost_mid_commit_gets_one_final_check():
    rescue = decide_rescue([Expired("a", MAX_RESCUES - 1, "committing")], {})
    assert rescue.requeue_counted == ("a",) and not rescue.dead


def test_at_the_limit_a_post_with_an_unsettled_earlier_commit_gets_one_final_check():
    unsettled = {"a": History(unsettled_commit=True)}
    rescue = decide_rescue([Expired("a", MAX_RESCUES - 1, "prepared")], unsettled)
    assert rescue.requeue_counted == ("a",) and not rescue.dead


def test_past_the_limit_a_post_that_may_be_out_is_unconfirmed_not_failed():
    rescue = decide_rescue([Expired("a", MAX_RESCUES, "committing"),
                            Expired("b", MAX_RESCUES, "prepared")],
                           {"b": History(unsettled_commit=True)})
    assert rescue.unconfirmed == ("a", "b") and rescue.failed == () and rescue.back == ()


def test_only_posts_at_the_limit_need_their_journal_read():
    expired = [Expired("under", 0, "prepared"), Expired("fresh", MAX_RESCUES - 1, "claimed"),
               Expired("at", MAX_RESCUES - 1, "prepared"), Expired("past", MAX_RESCUES, None)]
    assert policy.needs_history(expired) == ["at", "past"]


def test_the_messages_of_a_given_up_post_tell_what_to_do():
    assert f"stopped {MAX_RESCUES} times" in policy.WORKERS_STOPPED
    assert "retry" in policy.WORKERS_STOPPED
    assert policy.WORKERS_STOPPED_MID_COMMIT.startswith(policy.WORKERS_STOPPED)
    assert "may be live" in policy.WORKERS_STOPPED_MID_COMMIT
