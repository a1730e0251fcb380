"""An endpoint's health as a state machine: rate limits wait, down endpoints are benched briefly
and longer on every failed probe, and the bench never outlasts the call's budget."""

from __future__ import annotations

from metasynth_hf.llm.config import EndpointConfig, RetryConfig
from metasynth_hf.llm.endpoints import Endpoint
from metasynth_hf.llm.errors_http import Failure

RETRY = RetryConfig(failures_to_cooldown=3, cooldown_s=1.0, max_cooldown_s=4.0)
DOWN = Failure(True, "HTTP 503", 503)
LIMITED = Failure(True, "HTTP 429", 429, retry_after_s=2.0)


def endpoint() -> Endpoint:
    return Endpoint(EndpointConfig(url="http://127.0.0.1:9"), RETRY)


def test_a_rate_limit_waits_for_retry_after_and_never_benches():
    e = endpoint()
    for _ in range(8):
        e.mark_failure(100.0, LIMITED, budget_left_s=60)
    assert e.benched_until == 0.0 and e.consecutive_failures == 0
    assert not e.available(101.0) and e.available(102.0) and e.ready_at(100.5) == 102.0
    assert "rate-limited for 1.5s more" in e.describe(100.5)


def test_a_down_endpoint_is_benched_then_longer_per_failed_probe_up_to_the_cap():
    e = endpoint()
    for _ in range(3):
        e.mark_failure(100.0, DOWN, budget_left_s=60)
    assert e.benched_until == 101.0  # a short first rest
    rests = []
    for now in (101.0, 103.0, 107.0, 111.0):  # each probe fails
        e.mark_failure(now, DOWN, budget_left_s=60)
        rests.append(e.benched_until - now)
    assert rests == [2.0, 4.0, 4.0, 4.0]  # doubling, capped at max_cooldown_s
    assert "down, benched" in e.describe(111.5) and "(last: HTTP 503)" in e.describe(111.5)
    e.mark_success()
    assert e.benched_until == 0.0 and e.benches == 0 and e.available(112.0)


def test_the_bench_never_outlasts_the_budget_and_a_lone_endpoint_is_not_benched():
    e = endpoint()
    for _ in range(3):
        e.mark_failure(100.0, DOWN, budget_left_s=0.25)
    assert e.benched_until == 100.25
    lone = endpoint()
    for _ in range(5):
        lone.mark_failure(100.0, DOWN, budget_left_s=60, can_bench=False)
    assert lone.benched_until == 0.0 and lone.available(100.0)
