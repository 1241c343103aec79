"""lockboxPayload reads Secrets Manager; secret values never reach history entries."""

from __future__ import annotations

import json
from typing import Any

import boto3

from stepline.api import queries
from stepline.testing import drive
from tests.integration.conftest import Runs

SPEC = r"""
yawl: "0.1"
start: call
steps:
  call:
    functionCall:
      functionId: stepline-echo
      input: '\({auth: "Bearer \(lockboxPayload("stepline-api"; "token"))", user: .input.user})'
      output: '\({sent: .echo.auth | length})'
"""


def _run(svc: Any, runs: Runs, spec: str) -> str:
    execution_id = runs.start(spec, '{"user": "ann"}')
    drive.run_to_end(svc, execution_id)
    return execution_id


def test_secret_reaches_the_call_but_not_the_history(svc: Any, runs: Runs) -> None:
    boto3.client("secretsmanager").create_secret(
        Name="stepline-api", SecretString=json.dumps({"token": "s3cr3t-value-42"})
    )
    execution_id = _run(svc, runs, SPEC)

    execution = queries.get(svc, execution_id)["execution"]
    assert execution["status"] == "FINISHED", execution
    assert json.loads(execution["result"]["resultJson"]) == {"sent": len("Bearer s3cr3t-value-42")}
    history = json.dumps(queries.history(svc, execution_id, size=None, token=None))
    assert "s3cr3t-value-42" not in history
    assert "Bearer ***" in history
    log = json.dumps([item.entries + item.open for item in svc.log.items(execution_id)])
    assert "s3cr3t-value-42" not in log


def test_a_missing_secret_fails_the_execution_clearly(svc: Any, runs: Runs) -> None:
    execution_id = _run(svc, runs, SPEC.replace("stepline-api", "stepline-missing"))

    execution = queries.get(svc, execution_id)["execution"]
    assert execution["status"] == "FAILED"
    assert execution["error"]["errorCode"] == "STEP_INVALID_ARGUMENT"
    assert "stepline-missing" in execution["error"]["message"]
