"""What an operator's dashboard gets: EMF documents for steps and executions on stdout."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepline.testing import drive
from tests.integration.conftest import Runs

RETRIED = r"""
yawl: "0.1"
start: call
steps:
  call:
    functionCall:
      functionId: stepline-flaky
      input: '\({key: .key, failures: 1})'
      retryPolicy:
        errorList: [FUNCTION_CALL_INVALID_RESPONSE]
        initialDelay: 1s
        retryCount: 2
      next: check
  check:
    switch:
      choices:
        - condition: .key == ""
          next: never
      default:
        next: done
  never:
    fail:
      errorMessage: unreachable
  done:
    success: {}
"""


def _documents(text: str) -> list[dict[str, Any]]:
    docs = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            docs.append(json.loads(line))
    return docs


def test_steps_and_the_execution_end_are_counted(
    svc: Any, runs: Runs, capsys: pytest.CaptureFixture[str]
) -> None:
    execution_id = runs.start(RETRIED, json.dumps({"key": f"metrics-{id(runs)}"}))
    capsys.readouterr()

    drive.drain(svc, until=lambda: svc.executions.get(execution_id).status in drive.ENDED)

    docs = _documents(capsys.readouterr().out)
    overall = [d for d in docs if "type" not in d]
    by_type = [d for d in docs if d.get("type") == "FunctionCall"]
    assert sum(d.get("ExecutionsFinished", [0])[0] for d in overall) == 1
    assert sum(d.get("StepCompleted", [0])[0] for d in overall) == 3  # call, check, done
    assert sum(d.get("StepRetried", [0])[0] for d in overall) == 1
    assert len(by_type) == 1
    assert by_type[0]["StepCompleted"] == [1.0] and by_type[0]["StepRetried"] == [1.0]
    assert by_type[0]["StepDuration"][0] > 0
    # Control steps are counted together, not one document each.
    assert not [d for d in docs if d.get("type") in ("Switch", "Success")]
    directives = by_type[0]["_aws"]["CloudWatchMetrics"][0]
    assert directives["Namespace"] == "Stepline" and "type" in directives["Dimensions"][0]
