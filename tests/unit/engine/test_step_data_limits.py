"""Step data limits hold for every step: 2 MB and 64 levels of nesting, Waits within 48 h."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from stepline import engine
from stepline.bounds import MAX_DEPTH
from stepline.engine import CallResult, new_machine
from stepline.engine.tick import MAX_DATA_BYTES
from stepline.yawl import Workflow, load

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _spec(steps: dict[str, Any]) -> Workflow:
    return load(json.dumps({"yawl": "0.1", "start": next(iter(steps)), "steps": steps}))


def _run(spec: Workflow, execution_input: Any, **kwargs: Any) -> engine.Advance:
    return engine.advance(spec, new_machine(execution_input), NOW, **kwargs)


def _failure(advanced: engine.Advance) -> tuple[str, str]:
    outcome = engine.outcome(advanced.machine)
    assert outcome is not None and outcome["status"] == "FAILED", outcome
    return outcome["error"]["errorCode"], outcome["error"]["message"]


def test_noop_output_over_2_mb_fails_with_step_data_limit_exceeded() -> None:
    spec = _spec({"grow": {"noOp": {"output": "\\({big: (.s + .s)})"}}})
    advanced = _run(spec, {"s": "x" * (MAX_DATA_BYTES // 2 + 1)})

    code, message = _failure(advanced)
    assert code == "STEP_DATA_LIMIT_EXCEEDED"
    assert message.startswith("step output is ") and message.endswith(
        f"bytes, above the limit of {MAX_DATA_BYTES}"
    )
    (entry,) = advanced.finished
    assert (entry["id"], entry["status"]) == ("grow", "FAILED")
    assert entry["error"]["errorCode"] == "STEP_DATA_LIMIT_EXCEEDED"


def test_noop_output_within_2_mb_is_merged() -> None:
    spec = _spec({"grow": {"noOp": {"output": "\\({big: .s})"}}})
    advanced = _run(spec, {"s": "x" * 1000})
    assert engine.outcome(advanced.machine) == {"status": "FINISHED", "result": {"big": "x" * 1000}}


def test_switch_input_over_2_mb_fails_with_step_data_limit_exceeded() -> None:
    spec = _spec(
        {
            "route": {
                "switch": {
                    "input": "\\({big: (.s + .s)})",
                    "choices": [{"condition": "true", "next": "done"}],
                }
            },
            "done": {"success": {}},
        }
    )
    code, message = _failure(_run(spec, {"s": "x" * (MAX_DATA_BYTES // 2 + 1)}))
    assert code == "STEP_DATA_LIMIT_EXCEEDED" and message.startswith("step input is ")


def test_call_output_nested_deeper_than_the_limit_fails_the_attempt() -> None:
    spec = _spec({"call": {"functionCall": {"functionId": "f"}}})
    first = _run(spec, {})
    (call,) = first.calls
    deep: Any = {}
    for _ in range(MAX_DEPTH * 10):
        deep = {"a": deep}
    advanced = engine.advance(spec, first.machine, NOW, {call.n: CallResult(output=deep)})

    code, message = _failure(advanced)
    assert code == "STEP_DATA_LIMIT_EXCEEDED"
    assert message == f"step output is nested deeper than {MAX_DEPTH} levels of arrays and objects"


@pytest.mark.parametrize(
    ("duration", "reason"),
    [("1e300", "longer than an execution may run"), ("inf", "invalid duration 'inf'")],
)
def test_wait_with_a_rendered_duration_beyond_48h_fails_without_overflowing(
    duration: str, reason: str
) -> None:
    spec = _spec({"pause": {"wait": {"duration": "\\(.d)"}}})
    code, message = _failure(_run(spec, {"d": duration}, scale=1000.0))
    assert code == "STEP_INVALID_ARGUMENT" and reason in message


def test_wait_until_more_than_48h_away_fails_without_overflowing() -> None:
    spec = _spec({"pause": {"wait": {"until": "\\(.at)"}}})
    code, message = _failure(_run(spec, {"at": "9999-12-31T23:59:59Z"}, scale=1000.0))
    assert code == "STEP_INVALID_ARGUMENT"
    assert "more than 48h away" in message


def test_wait_until_within_48h_parks_the_execution() -> None:
    spec = _spec({"pause": {"wait": {"until": "\\(.at)"}}})
    advanced = _run(spec, {"at": "2026-12-02T12:00:00Z"})
    assert engine.outcome(advanced.machine) is None
    assert advanced.wake_at == datetime(2026, 12, 2, 12, tzinfo=UTC)
