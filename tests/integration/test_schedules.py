"""Workflow schedules: validation, EventBridge Scheduler schedules in step with the table, fires."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stepline.dev import scheduler
from stepline.dev.stack import EmulatedStack
from stepline.service import schedules

from .conftest import SPEC, Api

EVENTS = Path(__file__).parents[1] / "events"
DAILY = {"cronExpression": "0 9 * * ? *", "timezone": "Europe/Moscow"}


@dataclass
class Group:
    """The deployed schedule group, read as the account root."""

    client: Any
    name: str


@pytest.fixture(scope="module")
def group(stack: EmulatedStack) -> Group:
    """The schedule group template.yaml gives the workflows function."""
    name = stack.function("WorkflowsFunction").environment["SCHEDULE_GROUP"]
    return Group(stack.clients("scheduler"), name)


@pytest.fixture(scope="module")
def trigger(stack: EmulatedStack) -> Callable[[dict[str, Any]], Any]:
    """The deployed trigger function, invoked as Scheduler invokes it."""
    return lambda event: stack.invoke("TriggerFunction", event)


def create(
    api: Api, folder: str, name: str = "nightly", **fields: Any
) -> tuple[int, dict[str, Any]]:
    body = {"folderId": folder, "name": name, "specification": {"specYaml": SPEC}, **fields}
    reply = api.call("workflow_create", body=body)
    return reply.status, reply.body


def schedule_of(group: Group, workflow_id: str) -> dict[str, Any] | None:
    try:
        reply: dict[str, Any] = group.client.get_schedule(Name=workflow_id, GroupName=group.name)
    except group.client.exceptions.ResourceNotFoundException:
        return None
    return reply


def schedule_names(group: Group) -> set[str]:
    pages = group.client.get_paginator("list_schedules").paginate(GroupName=group.name)
    return {s["Name"] for page in pages for s in page["Schedules"]}


def executions_of(api: Api, workflow_id: str) -> list[dict[str, Any]]:
    reply = api.call("list", query={"workflowId": workflow_id})
    assert reply.status == 200, reply.body
    return list(reply.body.get("executions", []))


def fire_event(workflow_id: str, at: str, schedule: dict[str, str] = DAILY) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "trigger_schedule.json").read_text())
    return event | {"workflowId": workflow_id, "scheduledTime": at, "schedule": schedule}


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            {"cronExpression": "0 * * * * *", "timezone": "UTC"},
            "schedule.cronExpression: '0 * * * * *': one of day-of-month and day-of-week",
        ),
        (
            {"cronExpression": "0 25 * * ? *", "timezone": "UTC"},
            "schedule.cronExpression: '0 25 * * ? *': hours: 25 is out of range 0-23",
        ),
        (
            {"cronExpression": "0 9 * * ? *", "timezone": "Mars/Olympus"},
            "schedule.timezone: 'Mars/Olympus' is not a known IANA time zone",
        ),
    ],
)
def test_create_refuses_a_bad_schedule_naming_the_field(
    api: Api, folder: str, schedule: dict[str, str], message: str
) -> None:
    status, body = create(api, folder, schedule=schedule)
    assert status == 400
    assert body["code"] == 3
    assert body["message"].startswith(message)


def test_update_refuses_a_bad_cron_expression(api: Api, workflow_id: str) -> None:
    body = {"schedule": {"cronExpression": "0 9 ? * MON-FUN *", "timezone": "UTC"}}
    reply = api.call("workflow_update", path={"workflowId": workflow_id}, body=body)
    assert reply.status == 400
    assert reply.body["message"].startswith("schedule.cronExpression: '0 9 ? * MON-FUN *'")


def test_create_materialises_the_schedule_with_trigger_target_and_dead_letter_queue(
    api: Api, stack: EmulatedStack, group: Group, folder: str
) -> None:
    status, body = create(api, folder, schedule=DAILY)
    assert status == 200, body
    workflow_id = body["metadata"]["workflowId"]
    found = schedule_of(group, workflow_id)
    assert found is not None
    assert found["ScheduleExpression"] == "cron(0 9 * * ? *)"
    assert found["ScheduleExpressionTimezone"] == "Europe/Moscow"
    assert found["Target"]["Arn"] == stack.function("TriggerFunction").arn
    assert (
        found["Target"]["RoleArn"]
        == stack.clients("iam").get_role(RoleName=stack.deployment.physical["SchedulerRole"])[
            "Role"
        ]["Arn"]
    )
    assert "TriggerDeadLetterQueue" in found["Target"]["DeadLetterConfig"]["Arn"]
    assert json.loads(found["Target"]["Input"]) == {
        "trigger": "schedule",
        "workflowId": workflow_id,
        "scheduledTime": "<aws.scheduler.scheduled-time>",
        "schedule": DAILY,
    }


def test_update_moves_the_schedule_and_null_removes_it(api: Api, group: Group, folder: str) -> None:
    _, body = create(api, folder, schedule=DAILY)
    workflow_id = body["metadata"]["workflowId"]
    hourly = {"cronExpression": "cron(15 * * * ? *)", "timezone": "UTC"}
    reply = api.call("workflow_update", path={"workflowId": workflow_id}, body={"schedule": hourly})
    assert reply.status == 200, reply.body
    found = schedule_of(group, workflow_id)
    assert found is not None
    assert found["ScheduleExpression"] == "cron(15 * * * ? *)"
    assert found["ScheduleExpressionTimezone"] == "UTC"
    body = {"schedule": None, "updateMask": "schedule"}
    reply = api.call("workflow_update", path={"workflowId": workflow_id}, body=body)
    assert reply.status == 200, reply.body
    assert schedule_of(group, workflow_id) is None


def test_delete_removes_the_schedule(api: Api, group: Group, folder: str) -> None:
    _, body = create(api, folder, schedule=DAILY)
    workflow_id = body["metadata"]["workflowId"]
    assert api.call("workflow_delete", path={"workflowId": workflow_id}).status == 200
    assert schedule_of(group, workflow_id) is None


def test_failed_create_leaves_no_schedule_behind(api: Api, group: Group, folder: str) -> None:
    create(api, folder, name="taken")
    before = schedule_names(group)
    status, body = create(api, folder, name="taken", schedule=DAILY)
    assert status == 409, body
    assert schedule_names(group) == before


def test_failed_update_puts_the_previous_schedule_back(api: Api, group: Group, folder: str) -> None:
    create(api, folder, name="taken")
    _, body = create(api, folder, name="mine", schedule=DAILY)
    workflow_id = body["metadata"]["workflowId"]
    change = {"name": "taken", "schedule": {"cronExpression": "0 0 ? * SUN *", "timezone": "UTC"}}
    reply = api.call("workflow_update", path={"workflowId": workflow_id}, body=change)
    assert reply.status == 409, reply.body
    found = schedule_of(group, workflow_id)
    assert found is not None
    assert found["ScheduleExpression"] == "cron(0 9 * * ? *)"


def test_a_fire_starts_one_execution_with_the_documented_input(
    api: Api, group: Group, trigger: Callable[[dict[str, Any]], Any], folder: str
) -> None:
    _, body = create(api, folder, schedule=DAILY)
    workflow_id = body["metadata"]["workflowId"]
    found = schedule_of(group, workflow_id)
    assert found is not None
    text = scheduler.fill_context(
        found["Target"]["Input"], scheduled=datetime(2026, 11, 28, 6, tzinfo=UTC), arn="arn"
    )
    result = trigger(json.loads(text))
    execution = api.call("get", path={"executionId": result["executionId"]}).body["execution"]
    assert json.loads(execution["input"]["inputJson"]) == {
        "scheduledTime": "2026-11-28T06:00Z",
        "schedule": DAILY,
    }


def test_two_fires_within_one_minute_start_one_execution(
    api: Api, group: Group, trigger: Callable[[dict[str, Any]], Any], folder: str
) -> None:
    _, body = create(api, folder, schedule=DAILY)
    workflow_id = body["metadata"]["workflowId"]
    first = trigger(fire_event(workflow_id, "2026-11-28T06:00:00Z"))
    again = trigger(fire_event(workflow_id, "2026-11-28T06:00:41Z"))
    assert first["executionId"] == again["executionId"]
    later = trigger(fire_event(workflow_id, "2026-11-29T06:00:00Z"))
    assert later["executionId"] != first["executionId"]
    assert len(executions_of(api, workflow_id)) == 2


def test_a_schedule_whose_workflow_is_gone_removes_itself(
    api: Api, admin: Any, group: Group, trigger: Callable[[dict[str, Any]], Any], folder: str
) -> None:
    _, body = create(api, folder, schedule=DAILY)
    workflow_id = body["metadata"]["workflowId"]
    record = admin.workflows.get(workflow_id)
    assert record is not None
    admin.workflows.delete(record)  # the table write of a Delete whose schedule call was lost
    result = trigger(fire_event(workflow_id, "2026-11-28T06:00:00Z"))
    assert result["executionId"] is None
    assert schedule_of(group, workflow_id) is None


def test_a_stale_schedule_is_realigned_with_the_table_and_starts_nothing(
    api: Api,
    stack: EmulatedStack,
    group: Group,
    trigger: Callable[[dict[str, Any]], Any],
    folder: str,
) -> None:
    _, body = create(api, folder, schedule=DAILY)
    workflow_id = body["metadata"]["workflowId"]
    stale = {"cronExpression": "0 3 * * ? *", "timezone": "UTC"}
    result = trigger(fire_event(workflow_id, "2026-11-28T03:00:00Z", stale))
    assert result["executionId"] is None
    found = schedule_of(group, workflow_id)
    assert found is not None
    assert found["ScheduleExpression"] == "cron(0 9 * * ? *)"
    assert found["Target"]["Arn"] == stack.function("TriggerFunction").arn
    assert executions_of(api, workflow_id) == []


class _SteppedScheduler(scheduler.DevScheduler):
    """A dev scheduler whose clock the test moves."""

    clock: datetime = datetime(2026, 11, 28, 5, 59, 30, tzinfo=UTC)

    def now(self) -> datetime:
        return self.clock


def test_dev_scheduler_fires_due_schedules_once_per_fire_time(
    api: Api,
    stack: EmulatedStack,
    group: Group,
    trigger: Callable[[dict[str, Any]], Any],
    folder: str,
) -> None:
    every_minute = {"cronExpression": "* * * * ? *", "timezone": "UTC"}
    _, body = create(api, folder, schedule=every_minute)
    workflow_id = body["metadata"]["workflowId"]
    delivered: list[dict[str, Any]] = []

    def invoke(fire: scheduler.Fire) -> Any:
        if fire.event["workflowId"] == workflow_id:
            delivered.append(copy.deepcopy(fire.event))
        stack.fire_schedule(fire)  # as Scheduler: the schedule's role invokes

    dev = _SteppedScheduler(group.client, group.name, invoke)
    dev.tick()  # first sight of the schedule: nothing is back-filled
    assert delivered == []
    dev.clock += timedelta(seconds=45)  # 06:00:15
    dev.tick()
    dev.clock += timedelta(seconds=30)  # 06:00:45: same minute, nothing new is due
    dev.tick()
    dev.clock += timedelta(seconds=20)  # 06:01:05
    dev.tick()
    assert [e["scheduledTime"] for e in delivered] == [
        "2026-11-28T06:00:00Z",
        "2026-11-28T06:01:00Z",
    ]
    end = time.monotonic() + 10  # Scheduler invokes asynchronously
    while len(executions_of(api, workflow_id)) < 2:
        assert time.monotonic() < end, executions_of(api, workflow_id)
        time.sleep(0.05)


def test_target_input_keeps_the_scheduled_time_placeholder() -> None:
    text = schedules.target_input("swabc", DAILY)
    assert "<aws.scheduler.scheduled-time>" in text
