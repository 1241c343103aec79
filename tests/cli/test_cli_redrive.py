"""``stepline execution redrive`` against a running dev stack."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.cli.conftest import Ran, Stepline
from tests.cli.test_cli import WAITING, create
from tests.cli.test_cli_pause import status_becomes

pytestmark = pytest.mark.e2e

DEADLINE = 30.0


def redrive_once_closed(stepline: Stepline, execution_id: str, *args: str) -> Ran:
    """Redrive a stopped execution once its runner has closed its steps (polled)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        ran = stepline("execution", "redrive", execution_id, *args)
        if "still being closed" not in ran.err or time.monotonic() > deadline:
            return ran
        time.sleep(0.1)


def test_redrive_a_terminated_execution(stepline: Stepline, tmp_path: Path) -> None:
    workflow_id = create(stepline, tmp_path, WAITING)
    execution_id = stepline("execution", "start", "--workflow-id", workflow_id).json()[
        "executionId"
    ]
    refused = stepline("execution", "redrive", execution_id)
    assert refused.code != 0 and "FAILED_PRECONDITION" in refused.err

    assert stepline("execution", "terminate", execution_id).code == 0
    assert status_becomes(stepline, execution_id, "STOPPED") == "STOPPED"

    redriven = redrive_once_closed(stepline, execution_id)
    assert redriven.code == 0, redriven.err
    assert redriven.json() == {"executionId": execution_id, "redriveCount": "1"}
    assert status_becomes(stepline, execution_id, "RUNNING") == "RUNNING"
    table = stepline("execution", "terminate", execution_id)
    assert table.code == 0
    assert status_becomes(stepline, execution_id, "STOPPED") == "STOPPED"
    again = redrive_once_closed(stepline, execution_id, "-o", "table")
    assert again.code == 0, again.err
    assert f"Redriving execution {execution_id} (redrive 2)" in again.out
    assert stepline("execution", "terminate", execution_id).code == 0
