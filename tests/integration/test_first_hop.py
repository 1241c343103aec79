"""A new execution's first hop: Start invokes the runner function asynchronously; whatever
cannot go that way, or fails on it, goes through the steps queue."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import pytest

from stepline.api import queries
from stepline.api.http import tracer
from stepline.dev.stack import EmulatedStack
from stepline.service import executions, runner
from stepline.service.deps import Services
from stepline.service.runner import routing
from stepline.store.queue import StepMessage
from stepline.testing import LambdaContext, drive
from tests.integration.conftest import Api, Runs, cached

DEADLINE = 20.0
TWO_STEPS = """\
yawl: "0.1"
start: a
steps:
  a:
    noOp: {next: done}
  done:
    success: {}
"""
SLOW_CALL = """\
yawl: "0.1"
start: nap
steps:
  nap:
    functionCall: {functionId: stepline-slow, input: '\\({seconds: 5})', next: done}
  done:
    success: {}
"""


def status_of(api: Api, execution_id: str) -> str:
    reply = api.call("get", path={"executionId": execution_id})
    assert reply.status == 200, reply.body
    return str(reply.body["execution"]["status"])


def wait_status(api: Api, execution_id: str, wanted: str) -> None:
    end = time.monotonic() + DEADLINE
    while (status := status_of(api, execution_id)) != wanted:
        assert time.monotonic() < end, f"still {status}"
        time.sleep(0.05)


def test_start_hands_the_execution_to_the_runner_function(
    api: Api, runs: Runs, steps_queue: Any
) -> None:
    workflow_id = runs.workflow(TWO_STEPS)

    execution_id = api.start(workflow_id)

    wait_status(api, execution_id, "FINISHED")  # the deployed runner ran it
    assert steps_queue() == []  # and nothing went through the queue


def test_a_runner_that_cannot_be_invoked_leaves_the_message_on_the_queue(
    stack: EmulatedStack, admin: Services, runs: Runs, steps_queue: Any
) -> None:
    as_start = Services(
        replace(admin.settings, runner_function="test-no-such-runner"),
        cached(stack.role_clients("StartFunction")),
    )
    workflow_id = runs.workflow(TWO_STEPS)

    execution_id = executions.start(as_start, executions.StartCommand(workflow_id, "{}", "test"))

    assert steps_queue() == [{"executionId": execution_id, "seq": 0}]


def test_an_error_on_the_first_hop_puts_the_message_on_the_queue(
    svc: Services, runs: Runs, steps_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = runs.start(TWO_STEPS)
    steps_queue()  # as if Start had invoked the runner instead
    real_handle = runner.handle
    calls = []

    def flaky(*args: Any) -> None:
        calls.append(args)
        if len(calls) == 1:
            raise ConnectionError("the table is throttling")
        real_handle(*args)

    monkeypatch.setattr(routing, "handle", flaky)  # what the Lambda edge calls
    event = {"executionId": execution_id, "seq": 0}

    runner.process_direct(svc, event, LambdaContext(function_name="runner"), tracer())
    drive.run_to_end(svc, execution_id, handle=flaky)  # the queue delivers it again

    assert len(calls) == 2
    assert queries.get(svc, execution_id)["execution"]["status"] == "FINISHED"


def test_a_runner_invocation_that_fails_reaches_the_queue_as_its_failure_record(
    stack: EmulatedStack, api: Api, runs: Runs, steps_queue: Any
) -> None:
    lam = stack.clients("lambda")
    name = stack.function("RunnerFunction").name
    lam.update_function_configuration(FunctionName=name, Handler="app.no_such_handler")
    try:
        execution_id = api.start(runs.workflow(TWO_STEPS))
        end = time.monotonic() + DEADLINE
        records: list[dict[str, Any]] = []
        while not records:
            assert time.monotonic() < end, "no failure record reached the steps queue"
            records = steps_queue()
            time.sleep(0.05)
    finally:
        lam.update_function_configuration(FunctionName=name, Handler="app.lambda_handler")

    (record,) = records  # the template's EventInvokeConfig: no retry, on failure the queue
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert StepMessage.from_json(json.dumps(record)) == StepMessage(execution_id, 0)
