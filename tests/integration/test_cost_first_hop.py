"""The cost bench on the deployed path: Start hands the execution to the runner function."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_the_invocation_start_hands_over_joins_starts_trace(tmp_path: Path) -> None:
    figures = cost.measure(THREE_STEPS, "{}", executions=2, functions=tmp_path)
    xray = figures["xray"]
    fraction = cost.Prices.load().assumptions["xray_sampled_fraction"]

    # Two Starts and two runner invocations, each runner one handed over by its Start: only
    # the Starts decide whether to trace.
    assert (xray["invocations"], xray["joining_callers_trace"]) == (4, 2)
    assert xray["sampling_decisions"] == 2
    assert xray["traces"] == pytest.approx(2 * fraction)
