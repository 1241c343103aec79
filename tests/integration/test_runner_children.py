"""The Workflow step: a child execution the parent waits for without holding the runner."""

from __future__ import annotations

import json
import uuid
from typing import Any

from stepline.api.models import CreateWorkflowRequest
from stepline.dev import drive
from stepline.service import executions, runner, workflows
from stepline.store.queue import StepMessage

CHILD = r"""
yawl: "0.1"
start: work
steps:
  work:
    functionCall:
      functionId: double
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


def _workflow(svc: Any, spec: str) -> str:
    request = CreateWorkflowRequest.model_validate(
        {"folderId": "c" + uuid.uuid4().hex[:10], "name": "w", "specification": {"specYaml": spec}}
    )
    return str(
        workflows.create(svc, request, caller="t", base_url="http://x")["metadata"]["workflowId"]
    )


def _parent_of(svc: Any, child_spec: str) -> str:
    child = _workflow(svc, child_spec)
    parent = _workflow(svc, PARENT.replace("CHILD_ID", child))
    return executions.start(svc, executions.StartCommand(parent, '{"n": 21}', "t"))


def test_child_result_is_the_step_output(svc: Any) -> None:
    execution_id = _parent_of(svc, CHILD)
    got = drive.run_to_end(svc, execution_id)

    assert got["status"] == "FINISHED"
    assert json.loads(got["result"]["resultJson"]) == {"child": {"value": 42}}
    entries = executions.history(svc, execution_id, size=None, token=None)["entries"]
    assert [(e["id"], e["type"], e["status"]) for e in entries] == [
        ("delegate", "Workflow", "COMPLETED")
    ]


def test_child_failure_is_the_step_error_and_can_be_caught(svc: Any) -> None:
    execution_id = _parent_of(svc, FAILING_CHILD)
    got = drive.run_to_end(svc, execution_id)

    assert got["status"] == "FINISHED"
    result = json.loads(got["result"]["resultJson"])
    assert result == {"handled": True}
    entries = executions.history(svc, execution_id, size=None, token=None)["entries"]
    assert entries[0]["error"]["errorCode"] == "STEP_FAIL"
    assert "cannot handle 21" in entries[0]["error"]["message"]


def test_the_parent_does_not_hold_the_runner_while_the_child_runs(svc: Any) -> None:
    execution_id = _parent_of(svc, NAPPING_CHILD)
    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())

    last = svc.log.last(execution_id)
    assert not last.calls and last.wake is None and not last.ended
    child_id = next(iter(last.machine["children"].values()))
    assert svc.executions.get(child_id).parent == execution_id


def test_stopping_the_parent_stops_its_child(svc: Any) -> None:
    execution_id = _parent_of(svc, NAPPING_CHILD)
    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())
    child_id = next(iter(svc.log.last(execution_id).machine["children"].values()))
    drive.drain(svc, until=lambda: svc.log.last(child_id) is not None)

    executions.stop(svc, execution_id, terminate=True)
    drive.drain(svc, until=lambda: svc.executions.get(child_id).status == "STOPPED")

    assert executions.get(svc, execution_id)["execution"]["status"] == "STOPPED"
