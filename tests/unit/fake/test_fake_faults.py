"""Injected faults and latency: errors, throttling, timeouts, dropped and reset connections."""

from __future__ import annotations

import time

import httpx
import pytest

from herald.platforms.fake import FakeState
from herald.platforms.fake.faults import FaultPlan, FaultRule

IG_USER = "17841400000000001"
PAGE = "100000000000001"
ORG = "urn:li:organization:1000001"


def wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_server_error_is_transient_5xx_and_not_applied(fb, state):
    state.add_fault("error", platform="facebook", endpoint="commit", count=1)
    response = fb.post(f"/{PAGE}/feed", message="hi")
    assert response.status_code == 503
    error = response.json()["error"]
    assert (error["code"], error["is_transient"]) == (2, True)
    assert state.published() == []
    [call] = state.commits()
    assert (call.outcome, call.fault, call.error, call.applied) == ("fault", "error", "2", False)
    assert (call.account, call.caption, call.endpoint) == (PAGE, "hi", "feed")
    # count=1: the next call goes through
    assert fb.post(f"/{PAGE}/feed", message="hi").status_code == 200


def test_code_1_is_a_500(fb, state):
    state.add_fault("error", code=1, count=1)
    response = fb.get(f"/{PAGE}")
    assert response.status_code == 500 and response.json()["error"]["code"] == 1


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001, 80002])
def test_throttling_codes(ig, state, code):
    state.add_fault("throttle", platform="instagram", code=code, count=1)
    response = ig.get(f"/{IG_USER}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["is_transient"] is True


def test_linkedin_throttle_and_error(li, state):
    state.add_fault("throttle", platform="linkedin", endpoint="commit", count=1)
    response = li.post(ORG, "x")
    assert response.json() == {
        "status": 429, "serviceErrorCode": 101,
        "message": "Resource level throttle APPLICATION DAY limit for calls to this resource "
                   "is reached."}
    [call] = state.commits()
    assert (call.account, call.caption, call.outcome) == (ORG, "x", "fault")
    state.add_fault("error", platform="linkedin", count=1)
    assert li.post(ORG, "x").status_code == 500
    assert li.post(ORG, "x").status_code == 201


def test_faults_target_platform_and_endpoint(ig, fb, state, image_url):
    state.add_fault("error", platform="instagram", endpoint="commit")
    container = ig.container(image_url=image_url)  # container endpoint: untouched
    assert ig.publish(container).status_code == 503
    assert ig.publish(container).status_code == 503
    assert fb.post(f"/{PAGE}/feed", message="fine").status_code == 200
    state.clear_faults()
    assert ig.publish(container).status_code == 200


def test_drop_applies_the_commit_but_the_client_sees_a_dead_connection(li, state):
    state.add_fault("drop", platform="linkedin", endpoint="commit", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        li.post(ORG, "dropped post")
    [record] = state.published()
    assert record.caption == "dropped post" and record.dropped
    [call] = state.commits()
    assert (call.outcome, call.external_id) == ("dropped", record.external_id)
    # The retry is caught as a duplicate that names the post that went out.
    retry = li.post(ORG, "dropped post")
    assert retry.status_code == 422 and record.external_id in retry.json()["message"]


def test_drop_on_instagram_publish_leaves_the_container_published(ig, state, image_url):
    container = ig.container(image_url=image_url, caption="once")
    state.add_fault("drop", endpoint="commit", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        ig.publish(container)
    assert ig.status(container) == "PUBLISHED"
    assert [r.caption for r in state.published()] == ["once"]


def test_reset_drops_the_connection_without_applying(fb, state):
    state.add_fault("reset", platform="facebook", endpoint="commit", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        fb.post(f"/{PAGE}/feed", message="lost")
    assert state.published() == []
    assert [c.outcome for c in state.commits()] == ["fault"]


def test_timeout_then_applied_late(fb, state):
    state.add_fault("timeout", endpoint="commit", delay=0.4, count=1)
    with pytest.raises(httpx.ReadTimeout):
        fb.http.post(f"/{PAGE}/feed", data={"message": "slow"}, timeout=0.1)
    assert state.published() == []
    wait_for(lambda: len(state.published()) == 1)
    assert state.published()[0].caption == "slow"


def test_timeout_without_applying(fb, state):
    state.add_fault("timeout", endpoint="commit", delay=0.2, apply=False, count=1)
    with pytest.raises(httpx.ReadTimeout):
        fb.http.post(f"/{PAGE}/feed", data={"message": "never"}, timeout=0.1)
    wait_for(lambda: len(state.commits()) == 1)
    assert state.published() == [] and state.commits()[0].outcome == "fault"


def test_commit_log_counts_every_attempt(ig, state, image_url):
    container = ig.container(image_url=image_url, caption="count me")
    state.add_fault("error", endpoint="commit", count=1)
    ig.publish(container)
    ig.publish(container)
    ig.publish(container)  # refused: already published
    outcomes = [(c.endpoint, c.outcome) for c in state.commits()]
    assert outcomes == [("media_publish", "fault"), ("media_publish", "ok"),
                        ("media_publish", "error")]
    assert sum(c.applied for c in state.commits() if c.caption == "count me") == 1


def test_probability_is_reproducible_with_a_seed():
    def run(seed):
        plan = FaultPlan(seed)
        plan.add(FaultRule(kind="error", probability=0.3))
        return [plan.pick("facebook", "commit") is not None for _ in range(50)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    assert 5 < sum(run(7)) < 25


def test_probabilistic_fault_over_http(fb, state):
    state.seed(3)
    state.add_fault("error", platform="facebook", probability=0.5)
    statuses = [fb.get(f"/{PAGE}").status_code for _ in range(40)]
    assert 0 < statuses.count(503) < 40


def test_rule_validation():
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultRule(kind="explode")
    with pytest.raises(ValueError, match="endpoint"):
        FaultRule(kind="error", endpoint="publish")
    with pytest.raises(ValueError, match="unknown fault fields"):
        FaultRule.from_dict({"kind": "error", "colour": "red"})


def test_latency_applies_to_every_call(fb, state):
    state.configure(latency=0.15)
    started = time.monotonic()
    fb.get(f"/{PAGE}")
    fb.get(f"/{PAGE}", access_token="bad")
    assert time.monotonic() - started >= 0.3


def test_reset_forgets_faults_config_and_posts(fb, state):
    state.add_fault("error")
    state.configure(latency=5)
    state.reset()
    assert state.fault_rules() == [] and state.config.latency == 0
    assert state.accounts() == [] and state.published() == []


def test_state_defaults():
    state = FakeState()
    assert state.config.ig_quota_total == 50
    assert state.config.li_daily_limit == 150
    assert {"202601", "202609", "202611"} <= state.config.li_active_versions
