"""QUEUED → RUNNING as Get and List show it: Get as soon as the runner has written, List once
the run outlives RUNNING_AFTER (short runs cost one head write less)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from stepline.api import queries
from stepline.service import runner
from stepline.service.runner import calls, checkpoint
from stepline.store.queue import StepMessage
from tests.integration.conftest import Runs

WAIT = r"""
yawl: "0.1"
start: nap
steps:
  nap:
    wait:
      duration: {duration}
      next: done
  done:
    noOp: {{}}
"""

SLOW = r"""
yawl: "0.1"
start: slow
steps:
  slow:
    functionCall:
      functionId: stepline-slow
      input: '\({seconds: 3})'
"""


def _listed(svc: Any, workflow_id: str, status: str) -> list[str]:
    page = queries.list_executions(
        svc, workflow_id, size=None, token=None, filter_text=f"status={status}"
    )
    return [e["id"] for e in page["executions"]]


def _status(svc: Any, execution_id: str) -> str:
    return str(queries.get(svc, execution_id)["execution"]["status"])


def _first_stretch(svc: Any, execution_id: str) -> None:
    runner.handle(svc, StepMessage(execution_id, 0), runner.Invocation())


def test_a_short_wait_shows_running_in_get_and_queued_in_list(svc: Any, runs: Runs) -> None:
    # 30 s at the tests' time scale is 30 ms: the run ends well within RUNNING_AFTER.
    workflow_id = runs.workflow(WAIT.format(duration="30s"))
    execution_id = runs.start(workflow_id)
    assert _status(svc, execution_id) == "QUEUED"

    _first_stretch(svc, execution_id)

    assert _status(svc, execution_id) == "RUNNING"
    history = queries.history(svc, execution_id, size=None, token=None)
    assert history["execution"]["status"] == "RUNNING"
    assert execution_id in _listed(runs.svc, workflow_id, "QUEUED")
    assert execution_id not in _listed(runs.svc, workflow_id, "RUNNING")


def test_a_wait_past_running_after_is_listed_running_at_once(svc: Any, runs: Runs) -> None:
    # 3 h at the tests' time scale is 10.8 s, longer than RUNNING_AFTER.
    workflow_id = runs.workflow(WAIT.format(duration="3h"))
    execution_id = runs.start(workflow_id)

    _first_stretch(svc, execution_id)

    assert _status(svc, execution_id) == "RUNNING"
    assert execution_id in _listed(runs.svc, workflow_id, "RUNNING")
    assert execution_id not in _listed(runs.svc, workflow_id, "QUEUED")


def test_a_long_call_is_listed_running_while_it_runs(
    svc: Any, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "RUNNING_AFTER", 1.5)
    monkeypatch.setattr(calls, "WATCH_INTERVAL", 0.2)
    workflow_id = runs.workflow(SLOW)
    execution_id = runs.start(workflow_id)
    thread = threading.Thread(target=_first_stretch, args=(svc, execution_id))
    thread.start()

    deadline = time.monotonic() + 10
    while execution_id not in _listed(runs.svc, workflow_id, "RUNNING"):
        assert thread.is_alive(), "the call ended before List showed the execution RUNNING"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    thread.join(timeout=10)

    assert _status(svc, execution_id) == "FINISHED"
    assert _listed(runs.svc, workflow_id, "RUNNING") == []
