"""A steps message in the dead-letter queue ends its execution FAILED, and its parent goes on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from stepline.dev.pump import QueuePump
from stepline.dev.stack import EmulatedStack

from .conftest import PARKED, Api

DEADLINE = 20.0
PARENT = """\
yawl: "0.1"
start: child
steps:
  child:
    workflow: {workflowId: CHILD, executionInput: '\\({})'}
"""


@pytest.fixture(scope="module")
def pumps(stack: EmulatedStack) -> Iterator[None]:
    """The deployed mappings of the steps queue and its dead-letter queue, polling."""
    running = [
        QueuePump(m, stack.functions, pollers=1)
        for m in stack.deployment.mappings
        if "StepsQueue" in m.queue_arn or "StepsDeadLetterQueue" in m.queue_arn
    ]
    for each in running:
        each.start()
    yield
    for each in running:
        each.stop()


def execution(api: Api, execution_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.call("get", path={"executionId": execution_id}).body["execution"]
    return body


def until(api: Api, execution_id: str, status: str) -> dict[str, Any]:
    end = time.monotonic() + DEADLINE
    while (got := execution(api, execution_id))["status"] != status:
        assert time.monotonic() < end, got
        time.sleep(0.05)
    return got


def dead_letter(stack: EmulatedStack, execution_id: str) -> None:
    boto3.client("sqs").send_message(
        QueueUrl=stack.deployment.physical["StepsDeadLetterQueue"],
        MessageBody=json.dumps({"executionId": execution_id, "seq": 1}),
    )


def test_a_dead_lettered_message_fails_its_execution(
    stack: EmulatedStack, api: Api, pumps: None, folder: str
) -> None:
    execution_id = api.start(api.create_workflow(folder, name="parked", spec=PARKED))
    until(api, execution_id, "RUNNING")

    dead_letter(stack, execution_id)

    failed = until(api, execution_id, "FAILED")
    assert failed["error"]["errorCode"] == "STEP_INTERNAL"
    assert "dead-letter queue" in failed["error"]["message"]


def test_a_parent_waiting_on_a_dead_lettered_child_goes_on(
    stack: EmulatedStack, api: Api, pumps: None, folder: str
) -> None:
    child = api.create_workflow(folder, name="child", spec=PARKED)
    parent_id = api.start(
        api.create_workflow(folder, name="parent", spec=PARENT.replace("CHILD", child))
    )
    end = time.monotonic() + DEADLINE
    children: list[dict[str, Any]] = []
    while not children:
        assert time.monotonic() < end, "the child never started"
        children = api.call("list", query={"workflowId": child}).body.get("executions", [])
        time.sleep(0.05)

    dead_letter(stack, children[0]["id"])

    failed = until(api, parent_id, "FAILED")  # the child's failure is the parent's step's
    assert failed["error"]["errorCode"] == "STEP_INTERNAL"


def test_a_message_for_an_ended_execution_changes_nothing(
    stack: EmulatedStack, api: Api, pumps: None, workflow_id: str
) -> None:
    execution_id = api.start(workflow_id)
    finished = until(api, execution_id, "FINISHED")

    dead_letter(stack, execution_id)
    queue = stack.deployment.physical["StepsDeadLetterQueue"]
    end = time.monotonic() + DEADLINE
    while (
        boto3.client("sqs").get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        != "0"
    ):
        assert time.monotonic() < end, "the dead letter was never taken"
        time.sleep(0.05)
    assert execution(api, execution_id) == finished
