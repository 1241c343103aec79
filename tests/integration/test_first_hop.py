"""A new execution's first hop: Start invokes the runner function asynchronously; whatever
cannot go that way, or fails on it, goes through the steps queue."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from stepline.api.http import tracer
from stepline.dev import drive
from stepline.dev.gateway import LambdaContext
from stepline.dev.lambdas import LambdaServer, LocalFunctions
from stepline.service import executions, runner
from stepline.service.deps import Services
from stepline.store.queue import StepMessage
from tests.integration.conftest import Runs

RUNNER = "stepline-test-runner"
TWO_STEPS = """\
yawl: "0.1"
start: a
steps:
  a:
    noOp: {next: done}
  done:
    success: {}
"""


@pytest.fixture
def handed(tmp_path: Path) -> Iterator[tuple[str, queue.SimpleQueue[Any]]]:
    """A Lambda endpoint where the runner function takes Event invocations into a queue."""
    received: queue.SimpleQueue[Any] = queue.SimpleQueue()
    server = LambdaServer(("127.0.0.1", 0), LocalFunctions(tmp_path), {RUNNER: received.put})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()


def _services(svc: Services, lambda_url: str, function: str) -> Services:
    import boto3

    def client(service: str) -> Any:
        if service == "lambda":
            return boto3.client("lambda", endpoint_url=lambda_url)
        return svc.client_factory(service)

    return Services(replace(svc.settings, runner_function=function), client)


def test_start_hands_the_execution_to_the_runner_function(
    svc: Services, runs: Runs, steps_queue: Any, handed: tuple[str, Any]
) -> None:
    url, received = handed
    direct = _services(svc, url, RUNNER)
    workflow_id = runs.workflow(TWO_STEPS)

    execution_id = executions.start(direct, executions.StartCommand(workflow_id, "{}", "test"))

    event = received.get(timeout=10)
    assert event == {"executionId": execution_id, "seq": 0}
    assert steps_queue() == []  # nothing went through the queue
    runner.process_direct(direct, event, LambdaContext(function_name=RUNNER), tracer())
    assert executions.get(direct, execution_id)["execution"]["status"] == "FINISHED"


def test_a_runner_that_cannot_be_invoked_leaves_the_message_on_the_queue(
    svc: Services, runs: Runs, steps_queue: Any, handed: tuple[str, Any]
) -> None:
    url, received = handed
    direct = _services(svc, url, "no-such-function")
    workflow_id = runs.workflow(TWO_STEPS)

    execution_id = executions.start(direct, executions.StartCommand(workflow_id, "{}", "test"))

    assert steps_queue() == [{"executionId": execution_id, "seq": 0}]
    assert received.empty()


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

    monkeypatch.setattr(runner, "handle", flaky)
    event = {"executionId": execution_id, "seq": 0}

    runner.process_direct(svc, event, LambdaContext(function_name=RUNNER), tracer())
    drive.run_to_end(svc, execution_id)  # the queue delivers it again

    assert len(calls) == 2
    assert executions.get(svc, execution_id)["execution"]["status"] == "FINISHED"


def test_an_invocation_that_died_reaches_the_queue_as_its_failure_record() -> None:
    record = {
        "version": "1.0",
        "timestamp": "2026-11-28T10:00:00.000Z",
        "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 1},
        "requestPayload": {"executionId": "swabc-1", "seq": 0},
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "Task timed out after 900.00 seconds"},
    }

    assert StepMessage.from_json(json.dumps(record)) == StepMessage("swabc-1", 0)
