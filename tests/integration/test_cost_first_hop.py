"""The cost bench on the deployed path: Start hands the execution to the runner function."""

from __future__ import annotations

from pathlib import Path

from stepline.bench import cost

THREE_STEPS = """\
yawl: "0.1"
start: a
steps:
  a:
    noOp: {next: b}
  b:
    noOp: {next: done}
  done:
    success: {}
"""


def test_a_run_that_ends_in_its_first_invocation_makes_no_queue_request(tmp_path: Path) -> None:
    figures = cost.measure(THREE_STEPS, "{}", executions=2, functions=tmp_path)

    by_role = figures["requests_by_role"]
    assert by_role["api"] == {"dynamodb": {"GetItem": 2, "PutItem": 2}}
    assert by_role["integration"] == {"lambda": {"Invoke": 2}}  # Start → runner, async
    assert "sqs" not in by_role["runner"]
    assert "poller" not in by_role or not by_role["poller"].get("sqs", {}).get("DeleteMessage")
    assert figures["lambda"]["runner_invocations"] == 2
    assert figures["transitions"] == 6
    assert "sqs" not in figures["requests"]
