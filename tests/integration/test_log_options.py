"""logOptions: an execution's own log lines land in the CloudWatch Logs group it names.

The group is created as its owner would, under ``/stepline/<stack name>/``; the runner writes
to it with its own role, whose policy allows no other group.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from stepline.api import queries
from stepline.dev.stack import EmulatedStack
from stepline.models import CreateWorkflowRequest
from stepline.service import executions, runner, workflows
from stepline.store.queue import StepMessage
from stepline.testing import drive
from tests.integration.conftest import SPEC, Api

STACK_NAME = "lo"
GROUP = "/stepline/lo/orders"

# A step that fails, is retried once, fails again and is caught; then a NoOp.
FLOW = """
yawl: "0.1"
start: fetch
steps:
  fetch:
    objectStorage:
      bucket: stepline-lo-nothing
      object: missing.json
      get: {}
      retryPolicy:
        errorList: [STEP_INVALID_ARGUMENT]
        initialDelay: 1s
        retryCount: 1
      catch:
        - errorList: [STEP_INVALID_ARGUMENT]
          output: '\\({problem: .error})'
          next: fallback
  fallback:
    noOp: {}
"""


@pytest.fixture(scope="module")
def group(stack: EmulatedStack) -> str:
    """The workflows' log group, and the bucket their step reads from."""
    stack.clients("logs").create_log_group(logGroupName=GROUP)
    stack.clients("s3").create_bucket(Bucket="stepline-lo-nothing")
    return GROUP


def _run(svc: Any, admin: Any, log_options: dict[str, Any] | None, *, twice: bool = False) -> str:
    fields: dict[str, Any] = {"logOptions": log_options} if log_options is not None else {}
    request = CreateWorkflowRequest.model_validate(
        {
            "folderId": "l" + uuid.uuid4().hex[:10],
            "name": "flow",
            "specification": {"specYaml": FLOW},
        }
        | fields
    )
    created = workflows.create(admin, request, caller="test")
    workflow_id = created.resource_id
    execution_id = executions.start(admin, executions.StartCommand(workflow_id, "{}", "test"))
    if twice:  # every message delivered a second time, as SQS may

        def again(message: StepMessage) -> None:
            runner.handle(svc, message, runner.Invocation())

        drive.drain(
            svc, until=lambda: not svc.executions.get(execution_id).active, on_message=again
        )
    execution = drive.run_to_end(svc, execution_id)
    assert execution["status"] == "FINISHED", execution
    return execution_id


def _lines(execution_id: str, group: str = GROUP) -> list[dict[str, Any]]:
    logs = boto3.client("logs")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    lines = []
    for stream in streams:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])
        lines += [json.loads(e["message"]) for e in events["events"]]
    return [line for line in lines if line["executionId"] == execution_id]


def _said(lines: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(line["level"], line["message"], line.get("stepId")) for line in lines]


def test_every_line_from_debug_up_lands_in_the_group(svc: Any, admin: Any, group: str) -> None:
    execution_id = _run(svc, admin, {"logGroupId": group, "minLevel": "DEBUG"})

    lines = _lines(execution_id)
    assert _said(lines) == [
        ("INFO", "execution started", None),
        ("DEBUG", "step started", "fetch"),
        ("WARN", "step retried", "fetch"),
        ("ERROR", "step failed", "fetch"),
        ("DEBUG", "step started", "fallback"),
        ("INFO", "step finished", "fallback"),
        ("INFO", "execution finished", None),
    ]
    failed = lines[3]
    assert failed["error"]["errorCode"] == "STEP_INVALID_ARGUMENT"
    assert (failed["attempt"], failed["stepType"], failed["status"]) == (
        2,
        "ObjectStorage",
        "FAILED",
    )
    assert lines[2]["lastError"]["errorCode"] == "STEP_INVALID_ARGUMENT"
    assert {line["workflowId"] for line in lines} == {failed["workflowId"]}


def test_a_message_delivered_twice_writes_its_lines_once(svc: Any, admin: Any, group: str) -> None:
    execution_id = _run(svc, admin, {"logGroupId": group, "minLevel": "TRACE"}, twice=True)

    assert [message for _, message, _ in _said(_lines(execution_id))] == [
        "execution started",
        "step started",
        "step retried",
        "step failed",
        "step started",
        "step finished",
        "execution finished",
    ]


def test_lines_below_min_level_are_not_written(svc: Any, admin: Any, group: str) -> None:
    execution_id = _run(svc, admin, {"logGroupId": group, "minLevel": "WARN"})

    assert _said(_lines(execution_id)) == [
        ("WARN", "step retried", "fetch"),
        ("ERROR", "step failed", "fetch"),
    ]


def test_unspecified_level_writes_from_info_up(svc: Any, admin: Any, group: str) -> None:
    execution_id = _run(svc, admin, {"logGroupId": group})

    assert [level for level, _, _ in _said(_lines(execution_id))] == [
        "INFO",
        "WARN",
        "ERROR",
        "INFO",
        "INFO",
    ]


@pytest.mark.parametrize(
    "options",
    [{"logGroupId": GROUP, "disabled": True, "minLevel": "TRACE"}, {"minLevel": "TRACE"}, None],
    ids=["disabled", "no group", "no logOptions"],
)
def test_no_line_is_written_when_disabled_or_without_a_group(
    svc: Any, admin: Any, group: str, options: dict[str, Any] | None
) -> None:
    execution_id = _run(svc, admin, options)

    assert _lines(execution_id) == []


def test_a_missing_group_drops_the_lines_and_the_execution_goes_on(
    svc: Any, admin: Any, group: str
) -> None:
    execution_id = _run(svc, admin, {"logGroupId": "/stepline/lo/never-created"})

    assert queries.get(svc, execution_id)["execution"]["status"] == "FINISHED"
    entries = queries.history(svc, execution_id, size=None, token=None)["entries"]
    assert [(e["id"], e["status"]) for e in entries] == [
        ("fetch", "FAILED"),
        ("fallback", "COMPLETED"),
    ]
    assert (
        boto3.client("logs").describe_log_groups(logGroupNamePrefix="/stepline/lo/never")[
            "logGroups"
        ]
        == []
    )


def test_the_runner_may_write_to_no_group_outside_the_stacks(
    stack: EmulatedStack, svc: Any
) -> None:
    stack.clients("logs").create_log_group(logGroupName="/other/audit")
    logs = svc.core_client("logs")  # signed as the runner's role
    logs.create_log_stream(logGroupName=GROUP, logStreamName="probe")

    with pytest.raises(logs.exceptions.ClientError) as caught:
        logs.create_log_stream(logGroupName="/other/audit", logStreamName="probe")

    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"logGroupId": "/aws/lambda/victim"}, "logOptions.logGroupId: Value error, "),
        ({"logGroupId": "orders"}, "name one under /stepline/<stack name>/"),
        ({"logGroupId": "/stepline/lo/a b"}, "logOptions.logGroupId: Value error, "),
        ({"folderId": "b1gfolder"}, "logOptions.folderId: Value error, a folder's default log"),
        ({"minLevel": "LOUD"}, "logOptions.minLevel: Input should be"),
    ],
)
def test_bad_log_options_are_refused_at_create_and_update_naming_the_field(
    api: Api, folder: str, options: dict[str, Any], message: str
) -> None:
    body = {"folderId": folder, "name": "orders", "specification": {"specYaml": SPEC}}
    created = api.call("workflow_create", body=body | {"logOptions": options})
    assert (created.status, created.body["code"]) == (400, 3), created.body
    assert message in created.body["message"]

    workflow_id = api.create_workflow(folder)
    updated = api.call(
        "workflow_update", path={"workflowId": workflow_id}, body={"logOptions": options}
    )
    assert (updated.status, updated.body["code"]) == (400, 3), updated.body
    assert message in updated.body["message"]


def test_log_options_under_the_stacks_groups_are_kept(api: Api, folder: str) -> None:
    options = {"logGroupId": GROUP, "minLevel": "ERROR"}
    body = {"folderId": folder, "name": "orders", "specification": {"specYaml": SPEC}}

    reply = api.call("workflow_create", body=body | {"logOptions": options})

    assert reply.status == 200, reply.body
    assert reply.body["response"]["logOptions"] == {"disabled": False, **options}


def test_the_deployed_runner_writes_the_lines_in_its_sandbox(
    stack: EmulatedStack, svc: Any, admin: Any, group: str, steps_queue: Any
) -> None:
    request = CreateWorkflowRequest.model_validate(
        {
            "folderId": "l" + uuid.uuid4().hex[:10],
            "name": "quick",
            "specification": {"specYaml": SPEC},
            "logOptions": {"logGroupId": group},
        }
    )
    created = workflows.create(admin, request, caller="test")
    command = executions.StartCommand(created.resource_id, "{}", "test")
    execution_id = executions.start(admin, command)

    # The first hop, as Start hands it over: one invocation runs it to its end.
    stack.invoke("RunnerFunction", {"executionId": execution_id, "seq": 0})
    steps_queue()  # the copy of the first message the test's Start queued

    assert svc.executions.get(execution_id).status == "FINISHED"
    assert _said(_lines(execution_id)) == [
        ("INFO", "execution started", None),
        ("INFO", "step finished", "done"),
        ("INFO", "execution finished", None),
    ]
