"""The queue's decisions, without a database: retries, backoff, rescues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from herald.platforms.base import History
from herald.queue import policy
from herald.queue.claims import Claim, Outcome
from herald.queue.policy import MAX_RESCUES, Expired, Held, Retry, decide, decide_rescue
from herald.statuses import AttemptOutcome, Phase, PostStatus, QueueStatus

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLAIM = Claim("p1", 2, "w1")
#: rand 0.5: the delay is 0.75 of the ceiling. A budget of an hour.
RETRY = Retry(base_seconds=10, max_seconds=1000, rand=lambda: 0.5, budget_seconds=3600,
              unreachable_seconds=2)
#: A post whose time budget ran out a second ago.
SPENT = NOW - timedelta(seconds=1)


def outcome(kind: str, **kw: object) -> Outcome:
    return Outcome(CLAIM, AttemptOutcome(kind), error_message="HTTP 503", **kw)  # type: ignore[arg-type]


def held(attempt: int = 2, max_attempts: int = 3, cancel: bool = False,
         deadline: datetime | None = None) -> Held:
    return Held(attempt, max_attempts, cancel, deadline)


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


def test_a_retry_out_of_attempts_and_time_fails_saying_how_many_over_how_long():
    decision = decide(outcome("retry"), held(attempt=3, max_attempts=3, deadline=SPENT),
                      now=NOW, retry=RETRY)
    assert (decision.kind, decision.run_at) == (AttemptOutcome.FAILED, None)
    assert decision.message == "HTTP 503 (gave up after 3 attempts over 60 min)"
    assert (decision.post_status, decision.queue_status) == (PostStatus.FAILED,
                                                             QueueStatus.FAILED)


def test_a_retry_out_of_attempts_within_its_time_budget_is_retried():
    decision = decide(outcome("retry"), held(attempt=3, max_attempts=3,
                                             deadline=NOW + timedelta(minutes=5)),
                      now=NOW, retry=RETRY)
    assert decision.kind == AttemptOutcome.RETRY
    assert decision.deadline == NOW + timedelta(minutes=5)


def test_the_first_retry_starts_the_time_budget():
    decision = decide(outcome("retry"), held(attempt=3, max_attempts=3), now=NOW, retry=RETRY)
    assert decision.kind == AttemptOutcome.RETRY
    assert decision.deadline == NOW + timedelta(hours=1)


def test_a_retry_out_of_time_with_attempts_left_is_retried():
    decision = decide(outcome("retry"), held(attempt=1, deadline=SPENT), now=NOW, retry=RETRY)
    assert decision.kind == AttemptOutcome.RETRY


def test_a_budget_of_no_time_gives_up_by_the_count_alone():
    retry = Retry(base_seconds=10, rand=lambda: 0.5, budget_seconds=0)
    assert decide(outcome("retry"), held(attempt=2), now=NOW,
                  retry=retry).kind == AttemptOutcome.RETRY
    decision = decide(outcome("retry"), held(attempt=3), now=NOW, retry=retry)
    assert decision.message == "HTTP 503 (gave up after 3 attempts)"
    # An attempt that could not reach the platform counts too: nothing else bounds it.
    unreachable = outcome("retry", unknown=True, unreachable=True)
    assert decide(unreachable, held(attempt=2), now=NOW, retry=retry).max_attempts == 3
    assert decide(unreachable, held(attempt=3), now=NOW,
                  retry=retry).kind == AttemptOutcome.UNCONFIRMED


def test_a_retry_out_of_attempts_whose_commit_may_be_out_is_unconfirmed_not_failed():
    decision = decide(outcome("retry", unknown=True),
                      held(attempt=3, max_attempts=3, deadline=SPENT), now=NOW, retry=RETRY)
    assert decision.kind == AttemptOutcome.UNCONFIRMED
    assert decision.post_status == PostStatus.UNCONFIRMED


def test_an_unconfirmed_post_does_not_promise_a_check_it_will_not_make():
    # The message once read "… Herald will check whether it went out before trying
    # again. (gave up after 3 attempts)".
    said = outcome("retry", unknown=True,
                   next_step="Herald will check whether it went out before trying again.")
    retried = decide(said, held(attempt=2, deadline=NOW + timedelta(minutes=1)), now=NOW,
                     retry=RETRY)
    assert retried.message == ("HTTP 503 Herald will check whether it went out before "
                               "trying again.")
    given_up = decide(said, held(attempt=3, deadline=SPENT), now=NOW, retry=RETRY)
    assert given_up.message is not None and "will check" not in given_up.message
    assert given_up.message == ("HTTP 503 Herald could not find out whether it went out "
                                "(3 attempts over 60 min); look at the account, then retry "
                                "or cancel it.")


# --- attempts that could not reach the platform --------------------------------------


def test_a_check_that_could_not_reach_the_platform_spends_no_attempt():
    decision = decide(outcome("retry", unknown=True, unreachable=True),
                      held(attempt=3, max_attempts=3, deadline=NOW + timedelta(minutes=1)),
                      now=NOW, retry=RETRY)
    assert decision.kind == AttemptOutcome.RETRY
    assert decision.max_attempts == 4  # the count is given back
    # Its delay starts from HERALD_RETRY_UNREACHABLE_SECONDS: 2·2^2 · 0.75.
    assert decision.run_at == NOW + timedelta(seconds=6)


def test_an_attempt_that_reached_the_platform_spends_one():
    decision = decide(outcome("retry"), held(attempt=1), now=NOW, retry=RETRY)
    assert decision.max_attempts == 3


def test_a_commit_that_got_no_answer_spends_an_attempt_even_when_unreachable():
    said = outcome("retry", unknown=True, unreachable=True, phase=Phase.COMMITTING)
    assert not policy.spends_no_attempt(said)
    assert decide(said, held(attempt=1), now=NOW, retry=RETRY).max_attempts == 3


def test_an_unreachable_platform_still_gives_up_once_the_time_is_spent():
    decision = decide(outcome("retry", unknown=True, unreachable=True),
                      held(attempt=2, max_attempts=9, deadline=SPENT), now=NOW, retry=RETRY)
    assert decision.kind == AttemptOutcome.UNCONFIRMED


def test_backoff_is_capped_at_a_minute_by_default():
    assert Retry().max_seconds == 60
    assert Retry(rand=lambda: 1.0).run_at(30, now=NOW, not_before=None) == \
        NOW + timedelta(seconds=60)


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


def test_a_post_whose_worker_stopped_while_commenting_is_never_failed():
    # The post is out: stopped mid-comment at the limit, it gets its last (looking) attempt.
    rescue = decide_rescue([Expired("a", MAX_RESCUES - 1, "commenting"),
                            Expired("b", MAX_RESCUES - 1, "prepared")],
                           {"b": History(post_out=True)})  # a comment retried alone
    assert rescue.requeue_counted == ("a", "b") and not rescue.dead
