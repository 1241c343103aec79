"""The step and time quotas of an execution are the stack's parameters, read by the runner."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from stepline.api import queries
from stepline.dev.stack import EmulatedStack
from stepline.service.deps import Services
from stepline.testing import drive
from tests.integration.conftest import Runs

STACK_PARAMETERS = {"MaxStepsPerExecution": "2500", "MaxExecutionHours": "36"}

FOREACH = """
yawl: "0.1"
start: each
steps:
  each:
    foreach:
      input: '\\(.items)'
      output: '\\({count: (. | length)})'
      do:
        start: touch
        steps:
          touch:
            noOp: {}
"""
NAPS = """
yawl: "0.1"
start: nap
steps:
  nap:
    wait: {duration: 1h, next: again}
  again:
    wait: {duration: 1h}
"""


def _with(svc: Any, **settings: Any) -> Services:
    changed = replace(svc.settings, **settings)
    return Services(changed, svc.client_factory, core_client_factory=svc.core_client_factory)


def _outcome(svc: Services, runs: Runs, spec: str, input_json: str = "{}") -> dict[str, Any]:
    execution_id = runs.start(spec, input_json)
    ended = ("FINISHED", "FAILED", "STOPPED")
    drive.drain(svc, until=lambda: queries.get(svc, execution_id)["execution"]["status"] in ended)
    return dict(queries.get(svc, execution_id)["execution"])


def test_the_runner_reads_the_quotas_the_stack_was_deployed_with(stack: EmulatedStack) -> None:
    environment = stack.function("RunnerFunction").environment
    assert environment["STEPLINE_MAX_STEPS"] == "2500"
    assert environment["STEPLINE_MAX_EXECUTION_HOURS"] == "36"


def test_a_foreach_beyond_the_step_quota_fails_and_one_within_it_finishes(
    svc: Any, runs: Runs
) -> None:
    items = json.dumps({"items": [{"i": i} for i in range(30)]})

    over = _outcome(_with(svc, max_steps=20), runs, FOREACH, items)
    within = _outcome(_with(svc, max_steps=40), runs, FOREACH, items)

    assert over["status"] == "FAILED"
    assert over["error"]["errorCode"] == "STEP_QUOTA_EXCEEDED"
    assert "more than 20 steps" in over["error"]["message"]
    assert within["status"] == "FINISHED"


def test_an_execution_past_its_time_quota_fails_at_its_next_move(svc: Any, runs: Runs) -> None:
    # The clock runs 1000x: each 1 h wait is 3.6 s, the quota 2 s.
    quick = _with(svc, max_execution_hours=2 / 3600)

    failed = _outcome(quick, runs, NAPS)

    assert failed["status"] == "FAILED"
    assert failed["error"]["errorCode"] == "STEP_QUOTA_EXCEEDED"
    assert "longer than" in failed["error"]["message"]
