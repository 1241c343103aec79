"""Schedules fire and events arrive on ``stepline dev`` (a fast clock: --time-scale 0.001)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import boto3
import httpx
import pytest

from tests.e2e.conftest import RunningStack, launch_dev_stack, stop_dev_stack

pytestmark = pytest.mark.e2e

SPEC = "yawl: '0.1'\nstart: done\nsteps:\n  done:\n    success: {}\n"
DEADLINE = 30.0
T = TypeVar("T")


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    """A dev stack whose scheduler clock runs 1000x faster (a minute in 60 ms)."""
    running = launch_dev_stack("--time-scale", "0.001")
    yield running
    stop_dev_stack(running)


@pytest.fixture(scope="module")
def api(stack: RunningStack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


def poll(read: Callable[[], T], done: Callable[[T], bool]) -> T:
    """Read until ``done`` holds, or fail at the deadline."""
    end = time.monotonic() + DEADLINE
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < end, f"gave up waiting; last value: {value!r}"
        time.sleep(0.1)


def create(api: httpx.Client, name: str, **fields: Any) -> str:
    body = {"folderId": "triggers", "name": name, "specification": {"specYaml": SPEC}, **fields}
    reply = api.post("/workflow", json=body)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["metadata"]["workflowId"])


def executions(api: httpx.Client, workflow_id: str) -> list[dict[str, Any]]:
    reply = api.get("/execution", params={"workflowId": workflow_id, "pageSize": "1000"})
    return list(reply.json().get("executions", []))


def test_a_schedule_fires_on_the_scaled_clock_until_it_is_removed(
    api: httpx.Client, stack: RunningStack
) -> None:
    schedule = {"cronExpression": "* * * * ? *", "timezone": "Europe/Moscow"}
    workflow_id = create(api, "every-minute", schedule=schedule)
    found = poll(lambda: executions(api, workflow_id), lambda found: len(found) >= 3)
    assert len({e["startedAt"] for e in found}) == len(found)
    removed = api.patch(
        f"/workflow/{workflow_id}", json={"schedule": None, "updateMask": "schedule"}
    )
    assert removed.status_code == 200, removed.text
    scheduler = boto3.client(
        "scheduler",
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="stepline-dev",
        aws_secret_access_key="stepline-dev",
    )
    (group,) = [
        g["Name"]
        for g in scheduler.list_schedule_groups()["ScheduleGroups"]
        if "ScheduleGroup" in g["Name"]
    ]
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
    assert workflow_id not in names


def test_stepline_events_put_starts_the_named_workflow(
    api: httpx.Client, stack: RunningStack
) -> None:
    workflow_id = create(api, "on-event")
    command = [
        sys.executable,
        "-m",
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
        workflow_id,
        "--aws-endpoint",
        stack.aws_endpoint,
    ]
    event_id = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    found = poll(lambda: executions(api, workflow_id), lambda found: len(found) == 1)
    execution = api.get(f"/execution/{found[0]['id']}").json()["execution"]
    given = json.loads(execution["input"]["inputJson"])
    assert given["id"] == event_id
    assert given["detail"] == {"orderId": 42}
