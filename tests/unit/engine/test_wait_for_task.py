"""waitForTask in the engine: one poll per advance, a wake-up at ``wait_until``, then the
answer as the step's outcome (retry and catch as for any call)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from stepline import engine
from stepline.engine.machine import new_machine
from stepline.yawl import load

NOW = datetime(2026, 12, 1, tzinfo=UTC)

SPEC = r"""
yawl: "0.1"
start: approve
steps:
  approve:
    waitForTask:
      input: '\({order: .input.order})'
      notify: {url: 'https://approvals.example/\(.order)?token=\($taskToken)'}
      timeout: 2h
      heartbeatTimeout: 10m
      output: '\({approved: .approved})'
      retryPolicy: {errorList: [STEP_TIMEOUT], initialDelay: 1s, retryCount: 1}
      catch:
        - errorList: [STEP_FAILED_PRECONDITION, STEP_TIMEOUT]
          output: '\({rejected: .message})'
          next: rejected
  rejected:
    noOp: {}
"""


def _start() -> tuple[Any, engine.Advance]:
    spec = load(SPEC)
    adv = engine.advance(spec, new_machine({"order": "o-1"}), NOW)
    return spec, adv


def test_the_step_asks_the_runner_to_poll_its_task_with_the_step_timeout() -> None:
    _, adv = _start()

    (call,) = adv.calls
    assert call.step_input == {"order": "o-1"}
    assert call.timeout == 7200.0 and call.attempt == 1
    assert adv.wake_at is None


def test_no_answer_yet_parks_until_wait_until_without_polling_again() -> None:
    spec, adv = _start()
    (call,) = adv.calls
    later = NOW + timedelta(minutes=10)

    parked = engine.advance(spec, adv.machine, NOW, {call.n: engine.CallResult(wait_until=later)})

    assert parked.calls == [] and parked.wake_at == later and not parked.ended
    again = engine.advance(spec, parked.machine, later)
    assert [c.n for c in again.calls] == [call.n]  # the next advance polls again


def test_an_answer_is_the_step_output() -> None:
    spec, adv = _start()
    (call,) = adv.calls

    done = engine.advance(
        spec, adv.machine, NOW, {call.n: engine.CallResult(output={"approved": True})}
    )

    assert done.ended and engine.outcome(done.machine) == {
        "status": "FINISHED",
        "result": {"approved": True},
    }
    (entry,) = done.finished
    assert entry["type"] == "WaitForTask" and entry["status"] == "COMPLETED"


def test_a_failure_answer_is_caught_by_a_catch_rule() -> None:
    spec, adv = _start()
    (call,) = adv.calls
    refused = engine.CallResult(code="STEP_FAILED_PRECONDITION", message="not in stock")

    done = engine.advance(spec, adv.machine, NOW, {call.n: refused})

    assert engine.outcome(done.machine) == {
        "status": "FINISHED",
        "result": {"rejected": "not in stock"},
    }
    assert done.finished[0]["error"]["errorCode"] == "STEP_FAILED_PRECONDITION"


def test_a_timeout_is_retried_by_the_policy_with_a_new_attempt() -> None:
    spec, adv = _start()
    (call,) = adv.calls
    timed_out = engine.CallResult(code="STEP_TIMEOUT", message="no answer")

    retried = engine.advance(spec, adv.machine, NOW, {call.n: timed_out})
    assert retried.calls == [] and retried.wake_at is not None
    second = engine.advance(spec, retried.machine, retried.wake_at)

    (again,) = second.calls
    assert again.attempt == 2 and again.n == call.n
    done = engine.advance(spec, second.machine, retried.wake_at, {again.n: timed_out})
    assert engine.outcome(done.machine) == {
        "status": "FINISHED",
        "result": {"rejected": "no answer"},
    }


def test_the_entry_never_holds_anything_but_the_step_input() -> None:
    _, adv = _start()

    (entry,) = engine.open_entries(adv.machine)

    assert json.loads(entry["input"]["inputJson"]) == {"order": "o-1"}
