"""RetryPolicy and CatchRule: frozen values, thresholds and pure helpers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from stepline.yawl import CatchRule, RetryPolicy, WorkflowErrorCode
from stepline.yawl.policies import first_matching_rule


def policy(**fields: Any) -> RetryPolicy:
    return RetryPolicy.model_validate({"errorList": ["ALL"], **fields})


def test_retry_policy_defaults_follow_reference() -> None:
    rp = policy()
    assert (
        rp.error_list_mode,
        rp.initial_delay,
        rp.backoff_rate,
        rp.retry_count,
        rp.max_delay,
    ) == (
        "INCLUDE",
        1.0,
        1.0,
        0,
        1.0,
    )


def test_delay_grows_by_backoff_rate_and_is_capped_by_max_delay() -> None:
    rp = policy(initialDelay="2s", backoffRate=2, maxDelay="20s", retryCount=10)
    assert [rp.delay_for(n) for n in range(1, 6)] == [2.0, 4.0, 8.0, 16.0, 20.0]


def test_default_max_delay_caps_every_backoff_at_one_second() -> None:
    rp = policy(initialDelay="5s", backoffRate=3)
    assert rp.delay_for(1) == 1.0


def test_delay_survives_huge_exponents() -> None:
    rp = policy(backoffRate=1e300, maxDelay="1h", retryCount=100)
    assert rp.delay_for(100) == 3600.0


def test_delay_for_rejects_attempt_zero() -> None:
    with pytest.raises(ValueError):
        policy().delay_for(0)


def test_should_retry_respects_count_and_list() -> None:
    rp = policy(errorList=["STEP_TIMEOUT"], retryCount=2)
    assert rp.should_retry("STEP_TIMEOUT", 1)
    assert rp.should_retry(WorkflowErrorCode.STEP_TIMEOUT, 2)
    assert not rp.should_retry("STEP_TIMEOUT", 3)
    assert not rp.should_retry("HTTP_CALL_500", 1)


def test_all_matches_everything_but_step_internal() -> None:
    rp = policy()
    assert rp.matches("HTTP_CALL_503")
    assert not rp.matches("STEP_INTERNAL")


def test_exclude_mode_matches_codes_not_listed() -> None:
    rp = policy(errorList=["STEP_FAIL"], errorListMode="EXCLUDE")
    assert rp.matches("STEP_TIMEOUT")
    assert not rp.matches("STEP_FAIL")
    assert not rp.matches("STEP_INTERNAL")


def test_exclude_all_matches_nothing() -> None:
    assert not policy(errorListMode="EXCLUDE").matches("STEP_TIMEOUT")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retryCount", 101),
        ("retryCount", -1),
        ("maxDelay", "1h1s"),
        ("initialDelay", "999ms"),
        ("backoffRate", 0.9),
        ("errorList", ["NOT_A_CODE"]),
        ("errorListMode", "ONLY"),
        ("retryCount", "3"),
    ],
)
def test_retry_policy_rejects_values_beyond_thresholds(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        policy(**{field: value})


def test_retry_policy_accepts_values_at_thresholds() -> None:
    rp = policy(retryCount=100, maxDelay="1h", initialDelay="1s", backoffRate=1.0)
    assert rp.retry_count == 100 and rp.max_delay == 3600.0


def test_retry_policy_is_frozen_and_hashable() -> None:
    rp = policy()
    with pytest.raises(ValidationError):
        rp.retry_count = 5  # type: ignore[misc]
    assert hash(rp) == hash(policy())


def test_catch_rules_are_tried_in_order() -> None:
    rules = [
        CatchRule.model_validate({"errorList": ["STEP_TIMEOUT"], "output": "a", "next": "x"}),
        CatchRule.model_validate({"errorList": ["ALL"], "output": "b", "next": "y"}),
    ]
    assert first_matching_rule(rules, "STEP_TIMEOUT") is rules[0]
    assert first_matching_rule(rules, "HTTP_CALL_500") is rules[1]
    assert first_matching_rule(rules, "STEP_INTERNAL") is None


def test_catch_rule_requires_output_and_next() -> None:
    with pytest.raises(ValidationError) as caught:
        CatchRule.model_validate({"errorList": ["ALL"]})
    assert {e["loc"][0] for e in caught.value.errors()} == {"output", "next"}


def test_full_jitter_spreads_delays_deterministically_within_the_cap() -> None:
    from stepline.yawl.policies import RetryPolicy as Policy

    policy = Policy.model_validate(
        {
            "errorList": ["ALL"],
            "retryCount": 5,
            "initialDelay": "10s",
            "maxDelay": "10s",
            "jitter": "FULL",
        }
    )
    delays = {policy.delay_for(1, f"execution-{i}") for i in range(50)}
    assert all(0 <= d <= 10 for d in delays)
    assert len(delays) > 40
    assert policy.delay_for(2, "same") == policy.delay_for(2, "same")
