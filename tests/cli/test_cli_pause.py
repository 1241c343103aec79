"""``stepline execution pause|resume`` against a running dev stack."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.cli.conftest import Stepline
from tests.cli.test_cli import WAITING, create

pytestmark = pytest.mark.e2e

DEADLINE = 30.0


def status_becomes(stepline: Stepline, execution_id: str, wanted: str) -> str:
    """The execution's status once it is ``wanted`` (polled, with a deadline)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        status = str(stepline("execution", "get", execution_id).json()["status"])
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_pause_and_resume_a_running_execution(stepline: Stepline, tmp_path: Path) -> None:
    workflow_id = create(stepline, tmp_path, WAITING)
    execution_id = stepline("execution", "start", "--workflow-id", workflow_id).json()[
        "executionId"
    ]

    assert stepline("execution", "pause", execution_id).json() == {"executionId": execution_id}
    assert status_becomes(stepline, execution_id, "PAUSED") == "PAUSED"
    paused = stepline(
        "execution", "list", "--workflow-id", workflow_id, "--filter", "status=PAUSED"
    )
    assert [e["id"] for e in paused.json()] == [execution_id]

    assert "Resuming execution" in stepline("execution", "resume", execution_id, "-o", "table").out
    assert status_becomes(stepline, execution_id, "RUNNING") == "RUNNING"
    assert stepline("execution", "terminate", execution_id).code == 0
    assert status_becomes(stepline, execution_id, "STOPPED") == "STOPPED"
    refused = stepline("execution", "resume", execution_id)
    assert refused.code != 0 and "FAILED_PRECONDITION" in refused.err
