"""The outage decisions, without a database: counting, going down, probing, coming back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from herald.queue.health import Down, Holds, Rules, State, answered, failed, posts

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULES = Rules(failures=3, window_seconds=60, probe_seconds=5, probe_max_seconds=30)


def fail(state: State, at: float = 0.0, post: str = "p") -> State:
    return failed(state, now=NOW + timedelta(seconds=at), reason="HTTP 503", post_id=post,
                  rules=RULES)


def test_failures_in_a_row_within_the_window_take_it_down():
    state = fail(fail(State()), 10)
    assert (state.failures, state.down) == (2, False)
    state = fail(state, 20)
    assert state.down and state.down_since == NOW + timedelta(seconds=20)
    assert state.probe_at == NOW + timedelta(seconds=25)
    assert state.reason == "HTTP 503"


def test_failures_spread_wider_than_the_window_start_the_count_again():
    state = fail(fail(fail(State()), 30), 61)
    assert (state.failures, state.down) == (1, False)
    assert state.first_failure_at == NOW + timedelta(seconds=61)


def test_an_answer_clears_the_count_and_brings_it_back():
    assert answered(fail(fail(State()))) == State()
    down = fail(fail(fail(State())))
    assert answered(down) == State()


def test_a_failed_probe_doubles_the_wait_up_to_the_max():
    state = fail(fail(fail(State())))
    waits = []
    for n in range(4):
        state = fail(State(**{**state.__dict__, "probe_post_id": f"probe{n}"}), 100 + n,
                     post=f"probe{n}")
        waits.append(state.probe_seconds)
        assert state.down and state.probe_post_id is None
    assert waits == [10, 20, 30, 30]
    assert state.probe_at == NOW + timedelta(seconds=103 + 30)


def test_stragglers_failing_after_it_went_down_change_nothing():
    state = fail(fail(fail(State())))
    assert fail(state, 1, post="sent-before") == state


def _down(scope: str, platform: str, account: str | None, probe_in: float) -> Down:
    return Down(scope, platform, account, NOW, "HTTP 503",
                NOW + timedelta(seconds=probe_in), 5)


def test_an_accounts_probe_waits_while_its_platform_is_down():
    holds = Holds((_down("account:a1", "facebook", "a1", -1),
                   _down("account:b1", "linkedin", "b1", -1),
                   _down("platform:facebook", "facebook", None, -1),
                   _down("platform:instagram", "instagram", None, 10)))
    assert [d.scope for d in holds.probes(NOW)] == ["platform:facebook", "account:a1",
                                                    "account:b1"]
    assert holds.next_probe() == NOW - timedelta(seconds=1)


def test_a_platforms_probe_is_not_one_of_an_account_down_of_its_own():
    holds = Holds((_down("account:a1", "facebook", "a1", 0),
                   _down("platform:facebook", "facebook", None, 0)))
    [platform, not_a1] = holds.probe_posts(holds.down[1])
    assert str(platform.compile()) == str((posts.c.platform == "facebook").compile())
    assert "account_id" in str(not_a1.compile())


def test_nothing_down_holds_nothing():
    assert not Holds() and Holds().held() is None and Holds().next_probe() is None


def test_a_platform_goes_down_only_when_more_than_one_account_fails():
    one = State()
    for n in range(5):
        one = failed(one, now=NOW + timedelta(seconds=n), reason="HTTP 503", post_id="p",
                     rules=RULES, account_id="a1")
    assert (one.failures, one.down, one.mixed) == (5, False, False)
    two = failed(one, now=NOW + timedelta(seconds=6), reason="HTTP 503", post_id="p",
                 rules=RULES, account_id="a2")
    assert two.down and two.mixed
