"""The README's "Triggers and schedules" examples, run as written on ``stepline dev``.

The stack runs with ``--time-scale 0.01``, as the README starts it: the schedule
``0/5 * * * ? *`` fires every 3 s. boto3 stands in for the AWS CLI and the stack's signed
client for curl; both sign with the dev account's root key, as the README's lines do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
import httpx
import pytest

from tests.e2e.conftest import RunningStack, launch_dev_stack, stop_dev_stack

pytestmark = pytest.mark.e2e

README = Path(__file__).parents[2] / "README.md"
HELLO = "swrrximfmksdfiqm28xo"
ORDERS = "sw08aadijiyqru1wsk65"
SCHEDULE = {"cronExpression": "0/5 * * * ? *", "timezone": "Europe/Moscow"}
EVERY_MINUTE = {"cronExpression": "* * * * ? *", "timezone": "UTC"}
WITNESS = "yawl: '0.1'\nstart: done\nsteps:\n  done: {success: {}}\n"
SHIPPED = {"orderId": 42, "decision": "ship", "total": 42.5}
DEADLINE = 60.0
T = TypeVar("T")


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    """``stepline dev --time-scale 0.01``, as the README's trigger examples run it."""
    running = launch_dev_stack("--time-scale", "0.01")
    yield running
    stop_dev_stack(running)


@pytest.fixture(scope="module")
def api(stack: RunningStack) -> Iterator[httpx.Client]:
    """The README's ``curl -s "${SIGN[@]}" $API/...``: signed with the root key."""
    with stack.client() as client:
        yield client


def aws(stack: RunningStack, service: str) -> Any:
    """The README's ``$AWS``: the emulator's endpoint with the root key in the environment."""
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="stepline-dev",
        aws_secret_access_key="stepline-dev",
    )


def output(stack: RunningStack, key: str) -> str:
    """An output of the stack deployed on the emulator."""
    described = aws(stack, "cloudformation").describe_stacks(StackName="dev")
    outputs = described["Stacks"][0]["Outputs"]
    return str(next(o["OutputValue"] for o in outputs if o["OutputKey"] == key))


def triggers_section() -> str:
    """The README's "Triggers and schedules" section."""
    text = README.read_text()
    return text.split("## Triggers and schedules", 1)[1].split("\n## ", 1)[0]


def poll(read: Callable[[], T], done: Callable[[T], bool], deadline: float = DEADLINE) -> T:
    """Read until ``done`` holds, or fail at the deadline."""
    end = time.monotonic() + deadline
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < end, f"gave up waiting; last value: {value!r}"
        time.sleep(0.1)


def executions(api: httpx.Client, workflow_id: str) -> list[dict[str, Any]]:
    """Every execution of a workflow, with its input and result (List, then Get for each)."""
    reply = api.get("/execution", params={"workflowId": workflow_id, "pageSize": "1000"})
    assert reply.status_code == 200, reply.text
    found = []
    for preview in reply.json().get("executions", []):
        full = api.get(f"/execution/{preview['id']}")
        assert full.status_code == 200, full.text
        found.append(full.json()["execution"])
    return found


def count(api: httpx.Client, workflow_id: str) -> int:
    """How many executions a workflow has."""
    reply = api.get("/execution", params={"workflowId": workflow_id, "pageSize": "1000"})
    assert reply.status_code == 200, reply.text
    return len(reply.json().get("executions", []))


def set_schedule(api: httpx.Client, workflow_id: str, schedule: dict[str, str] | None) -> None:
    """``curl -X PATCH $API/workflow/<id>`` with a schedule, or without one."""
    body: dict[str, Any] = {"schedule": schedule}
    if schedule is None:
        body["updateMask"] = "schedule"
    reply = api.patch(f"/workflow/{workflow_id}", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["response"].get("schedule") == schedule


def the_one_with_input(
    api: httpx.Client, workflow_id: str, matches: Callable[[Any], bool]
) -> dict[str, Any]:
    """The workflow's execution whose input matches, once it has ended."""

    def ended(found: list[dict[str, Any]]) -> bool:
        chosen = [e for e in found if matches(json.loads(e["input"]["inputJson"]))]
        return len(chosen) == 1 and chosen[0]["status"] not in ("QUEUED", "RUNNING")

    found = poll(lambda: executions(api, workflow_id), ended)
    return next(e for e in found if matches(json.loads(e["input"]["inputJson"])))


def test_the_readme_ids_are_the_ones_the_stack_prints(stack: RunningStack) -> None:
    assert stack.workflow_id("hello") == HELLO
    assert stack.workflow_id("order-review") == ORDERS
    assert f"HELLO={HELLO}" in triggers_section()
    assert f"ORDERS={ORDERS}" in README.read_text()


def test_the_hello_schedule_starts_finished_executions_until_it_is_removed(
    api: httpx.Client, stack: RunningStack
) -> None:
    assert json.dumps(SCHEDULE) in triggers_section()
    set_schedule(api, HELLO, SCHEDULE)

    fired = poll(
        lambda: executions(api, HELLO),
        lambda found: len(found) >= 3 and all(e["status"] == "FINISHED" for e in found),
    )
    for execution in fired:
        given = json.loads(execution["input"]["inputJson"])
        assert given["schedule"] == SCHEDULE
        assert json.loads(execution["result"]["resultJson"]) == {"greeting": "Hello, world!"}

    set_schedule(api, HELLO, None)
    scheduler = aws(stack, "scheduler")
    group = output(stack, "ScheduleGroupName")
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
    assert HELLO not in names

    # A witness schedule shows the scheduler's clock going on: fifteen of its fires are fifteen
    # scaled minutes, in which hello's schedule would have fired three times.
    witness = api.post(
        "/workflow",
        json={
            "folderId": "readme",
            "name": "clock-witness",
            "specification": {"specYaml": WITNESS},
            "schedule": EVERY_MINUTE,
        },
    )
    assert witness.status_code == 200, witness.text
    witness_id = witness.json()["metadata"]["workflowId"]
    poll(lambda: count(api, witness_id), lambda n: n >= 3)
    settled = count(api, HELLO)
    poll(lambda: count(api, witness_id), lambda n: n >= 18)
    assert count(api, HELLO) == settled
    set_schedule(api, witness_id, None)


def test_stepline_events_put_starts_order_review_which_ships_order_42(
    api: httpx.Client, stack: RunningStack
) -> None:
    command = [
        "stepline",
        "events",
        "put",
        "--source",
        "stepline.events",
        "--detail-type",
        "Order Placed",
        "--detail",
        '{"orderId": 42}',
        "--workflow-id",
        ORDERS,
    ]
    assert " ".join(command[:6]) in triggers_section()
    given = [sys.executable, "-m", *command, "--aws-endpoint", stack.aws_endpoint]
    event_id = subprocess.run(given, capture_output=True, text=True, check=True).stdout.strip()

    execution = the_one_with_input(api, ORDERS, lambda i: i.get("id") == event_id)
    assert execution["status"] == "FINISHED", execution
    assert json.loads(execution["result"]["resultJson"]) == SHIPPED


def test_a_trigger_queue_message_starts_order_review_which_ships_order_42(
    api: httpx.Client, stack: RunningStack
) -> None:
    section = triggers_section()
    assert 'select(contains("TriggerQueue-"))' in section
    assert "workflowId={DataType=String,StringValue=$ORDERS}" in section
    sqs = aws(stack, "sqs")
    queue = next(url for url in sqs.list_queues()["QueueUrls"] if "TriggerQueue-" in url)
    sqs.send_message(
        QueueUrl=queue,
        MessageBody='{"orderId": 42}',
        MessageAttributes={"workflowId": {"DataType": "String", "StringValue": ORDERS}},
    )

    execution = the_one_with_input(api, ORDERS, lambda i: i == {"orderId": 42})
    assert execution["status"] == "FINISHED", execution
    assert json.loads(execution["result"]["resultJson"]) == SHIPPED
