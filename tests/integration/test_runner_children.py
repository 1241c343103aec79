"""The Workflow step: a child execution the parent waits for without holding the runner."""

from __future__ import annotations

import json
from typing import Any

from stepline import engine
from stepline.api import queries
from stepline.service import executions, runner
from stepline.store.queue import StepMessage
from stepline.testing import drive
from tests.integration.conftest import Runs

CHILD = r"""
yawl: "0.1"
start: work
steps:
  work:
    functionCall:
      functionId: stepline-double
      input: '\({value: .input.value})'
"""

FAILING_CHILD = r"""
yawl: "0.1"
start: boom
steps:
  boom:
    fail:
      errorMessage: '\("cannot handle \(.input.value)")'
"""

NAPPING_CHILD = """
yawl: "0.1"
start: nap
steps:
  nap:
    wait: {duration: 1h}
"""

PARENT = r"""
yawl: "0.1"
start: delegate
steps:
  delegate:
    workflow:
      workflowId: CHILD_ID
      executionInput: '\({value: .input.n})'
      output: '\({child: .})'
      catch:
        - errorList: [STEP_FAIL]
          output: '\({failed: .message})'
          next: handled
  handled:
    noOp:
      output: '\({handled: true})'
"""


def _parent_of(runs: Runs, child_spec: str) -> str:
    parent = runs.workflow(PARENT.replace("CHILD_ID", runs.workflow(child_spec)))
    return runs.start(parent, '{"n": 21}')


def test_child_result_is_the_step_output(svc: Any, runs: Runs) -> None:
    execution_id = _parent_of(runs, CHILD)
    got = drive.run_to_end(svc, execution_id)

    assert got["status"] == "FINISHED"
    assert json.loads(got["result"]["resultJson"]) == {"child": {"value": 42}}
    entries = queries.history(svc, execution_id, size=None, token=None)["entries"]
    assert [(e["id"], e["type"], e["status"]) for e in entries] == [
        ("delegate", "Workflow", "COMPLETED")
    ]


def test_child_failure_is_the_step_error_and_can_be_caught(svc: Any, runs: Runs) -> None:
    execution_id = _parent_of(runs, FAILING_CHILD)
    got = drive.run_to_end(svc, execution_id)

    assert got["status"] == "FINISHED"
    result = json.loads(got["result"]["resultJson"])
    assert result == {"handled": True}
    entries = queries.history(svc, execution_id, size=None, token=None)["entries"]
    assert entries[0]["error"]["errorCode"] == "STEP_FAIL"
    assert "cannot handle 21" in entries[0]["error"]["message"]


def test_the_parent_does_not_hold_the_runner_while_the_child_runs(svc: Any, runs: Runs) -> None:
    execution_id = _parent_of(runs, NAPPING_CHILD)
    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())

    last = svc.log.last(execution_id)
    assert not last.calls and last.wake is None and not last.ended
    (child_id,) = engine.stored_children(last.delta or last.machine)
    assert svc.executions.get(child_id).parent == execution_id


def test_stopping_the_parent_stops_its_child(svc: Any, runs: Runs) -> None:
    execution_id = _parent_of(runs, NAPPING_CHILD)
    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())
    last = svc.log.last(execution_id)
    (child_id,) = engine.stored_children(last.delta or last.machine)
    drive.drain(svc, until=lambda: svc.log.last(child_id) is not None)

    executions.stop(svc, execution_id, terminate=True)
    drive.drain(svc, until=lambda: svc.executions.get(child_id).status == "STOPPED")

    assert queries.get(svc, execution_id)["execution"]["status"] == "STOPPED"
