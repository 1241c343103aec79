"""History retention: execution heads and log items carry the table's TTL, payloads expire.

The stack is deployed with its own retention and time quota, so the TTLs the functions write
can only come from the parameters: head = start + retention + quota, log item = its write
time + retention + quota; idempotency records keep their 24 h.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from stepline.dev import template
from stepline.dev.stack import EmulatedStack
from stepline.service.deps import Settings
from stepline.store import keys
from stepline.store.records import RESUME_GRACE_DAYS
from stepline.testing import drive
from tests.integration.conftest import Api, Runs

RETENTION_DAYS = 30
QUOTA_HOURS = 36
STACK_PARAMETERS = {
    "HistoryRetentionDays": str(RETENTION_DAYS),
    "MaxExecutionHours": str(QUOTA_HOURS),
}
KEPT = RETENTION_DAYS * 24 * 3600 + QUOTA_HOURS * 3600
"""Seconds an execution's item is kept after its start (a head) or its write (a log item)."""
RESUMABLE = QUOTA_HOURS * 3600 + RESUME_GRACE_DAYS * 24 * 3600
"""Seconds after the start a log item that records no ended entry is kept."""

PARENT = r"""
yawl: "0.1"
start: delegate
steps:
  delegate:
    workflow:
      workflowId: CHILD_ID
      executionInput: '\({value: .input.n})'
"""
CHILD = "yawl: '0.1'\nstart: done\nsteps:\n  done:\n    success: {}\n"


def _items(aws: dict[str, str], execution_id: str) -> dict[str, dict[str, Any]]:
    """The raw items of an execution's partition (head and log), by sort key."""
    reply = boto3.client("dynamodb").query(
        TableName=aws["Table"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"EX#{execution_id}"}},
        ConsistentRead=True,
    )
    return {item["SK"]["S"]: item for item in reply["Items"]}


def _ttl(item: dict[str, Any]) -> int:
    """The item's TTL attribute, which must be a Number."""
    value = item[keys.TTL_ATTRIBUTE]
    assert set(value) == {"N"}, value
    return int(value["N"])


def _check_execution(
    aws: dict[str, str], execution_id: str, before: float, after: float
) -> tuple[int, list[int], int]:
    """The head's TTL is its start + retention + quota; every log item's that records ended
    entries is its write time + retention + quota, so between the head's and the end of the
    run + the same; one that records none only resumes the run: start + quota + grace."""
    items = _items(aws, execution_id)
    head = items.pop(keys.EXECUTION_SK)
    head_ttl = _ttl(head)
    assert int(before) + KEPT <= head_ttl <= int(after) + KEPT
    assert items, "the run wrote its log"
    log_ttls, resumable = [], 0
    for sort_key, item in sorted(items.items()):
        assert sort_key.startswith(keys.HISTORY_PREFIX)
        ttl = _ttl(item)
        if item.get("entries") == {"S": "[]"} and "ended" not in item:
            assert ttl == head_ttl - KEPT + RESUMABLE, sort_key
            resumable += 1
        else:
            assert head_ttl <= ttl <= int(after) + KEPT, sort_key
        log_ttls.append(ttl)
    return head_ttl, log_ttls, resumable


def test_every_function_reads_the_retention_and_the_quota(stack: EmulatedStack) -> None:
    # Start, the runner (child executions) and the trigger create heads; every function has
    # the same two settings.
    assert {"StartFunction", "RunnerFunction", "TriggerFunction"} <= set(stack.deployment.functions)
    for name, function in stack.deployment.functions.items():
        environment = function.environment
        assert environment["HISTORY_RETENTION_DAYS"] == str(RETENTION_DAYS), name
        assert environment["STEPLINE_MAX_EXECUTION_HOURS"] == str(QUOTA_HOURS), name
    settings = Settings.from_env(stack.function("StartFunction").environment)
    assert settings.history_retention_days == RETENTION_DAYS
    assert settings.max_execution_hours == QUOTA_HOURS
    assert stack.function("RunnerFunction").environment["STEPLINE_MAX_STEPS"]


def test_the_payload_bucket_expires_objects_after_the_retention() -> None:
    cfn = template.transformed()
    assert cfn["Parameters"]["HistoryRetentionDays"] | {"Description": ""} == {
        "Type": "Number",
        "Default": 90,
        "MinValue": 1,
        "Description": "",
    }
    rules = cfn["Resources"]["PayloadBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [rule["ExpirationInDays"] for rule in rules] == [{"Ref": "HistoryRetentionDays"}]
    assert "PayloadRetentionDays" not in cfn["Parameters"]


def test_a_finished_execution_head_and_log_expire_after_the_retention(
    api: Api, svc: Any, workflow_id: str, aws: dict[str, str]
) -> None:
    before = time.time()
    execution_id = api.start(workflow_id)
    assert drive.run_to_end(svc, execution_id)["status"] == "FINISHED"
    after = time.time()

    head_ttl, log_ttls, _ = _check_execution(aws, execution_id, before, after)
    # The head's TTL is written once, at Start: ending the execution leaves it as it was.
    assert svc.executions.get(execution_id).expires_at == head_ttl
    assert [item.expires_at for item in svc.log.items(execution_id)] == log_ttls


def test_a_child_execution_head_and_log_expire_after_the_retention(
    svc: Any, runs: Runs, aws: dict[str, str]
) -> None:
    parent = runs.workflow(PARENT.replace("CHILD_ID", runs.workflow(CHILD)))
    before = time.time()
    parent_id = runs.start(parent, '{"n": 1}')
    assert drive.run_to_end(svc, parent_id)["status"] == "FINISHED"
    after = time.time()

    children = [item["PK"]["S"].removeprefix("EX#") for item in _scan_children(aws, parent_id)]
    assert len(children) == 1
    # The parent's checkpoint while it waits for the child records no ended entry.
    assert _check_execution(aws, parent_id, before, after)[2] >= 1
    _check_execution(aws, children[0], before, after)


def _scan_children(aws: dict[str, str], parent_id: str) -> list[dict[str, Any]]:
    """Heads whose parent is ``parent_id`` (a test may scan; the service never does)."""
    pages = (
        boto3.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=aws["Table"],
            FilterExpression="SK = :ex AND #parent = :p",
            ExpressionAttributeNames={"#parent": "parent"},
            ExpressionAttributeValues={":ex": {"S": keys.EXECUTION_SK}, ":p": {"S": parent_id}},
        )
    )
    return [item for page in pages for item in page["Items"]]


def test_idempotency_records_keep_their_own_24_hours(
    api: Api, workflow_id: str, aws: dict[str, str]
) -> None:
    before = time.time()
    execution_id = api.start(workflow_id, headers={"Idempotency-Key": "retention-1"})
    after = time.time()

    pages = (
        boto3.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=aws["Table"],
            FilterExpression="SK = :idem AND executionId = :id",
            ExpressionAttributeValues={
                ":idem": {"S": keys.IDEMPOTENCY_SK},
                ":id": {"S": execution_id},
            },
        )
    )
    [record] = [item for page in pages for item in page["Items"]]
    assert set(record) == {"PK", "SK", "bodyHash", "executionId", keys.TTL_ATTRIBUTE}
    assert int(before) + 24 * 3600 <= _ttl(record) <= int(after) + 24 * 3600


def test_get_of_an_execution_whose_payload_expired_is_not_found(
    api: Api, workflow_id: str, aws: dict[str, str]
) -> None:
    execution_id = api.start(workflow_id, json.dumps({"blob": "z" * 100_000}))
    boto3.client("s3").delete_object(
        Bucket=aws["PayloadBucket"], Key=f"executions/{execution_id}/input.json"
    )

    reply = api.call("get", path={"executionId": execution_id})

    assert reply.status == 404, reply.body
    assert f"past the {RETENTION_DAYS}-day history retention" in reply.body["message"]
