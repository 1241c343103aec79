"""YMQ put → SQS SendMessage on moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from stepline.integrations import ymq
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import YMQ
from tests.unit.integrations.conftest import MakeContext, stubbed

pytestmark = pytest.mark.usefixtures("aws")


def step(queue: str, body: str = "hello") -> YMQ:
    return YMQ.model_validate({"queueArn": queue, "put": {"body": body}})


def received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    reply = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
    )
    messages: list[dict[str, Any]] = reply.get("Messages", [])
    return messages


def queue(name: str = "jobs", **attributes: str) -> tuple[str, str]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def test_put_sends_the_body_to_the_queue_named_by_arn(make_ctx: MakeContext) -> None:
    url, arn = queue()
    output = ymq.call(step(arn), {}, make_ctx({}))
    [message] = received(url)
    assert output == {"MessageId": message["MessageId"]}
    assert message["Body"] == "hello"


@pytest.mark.parametrize("by", ["url", "name"])
def test_put_accepts_a_queue_url_or_name(by: str, make_ctx: MakeContext) -> None:
    url, _ = queue()
    ymq.call(step(url if by == "url" else "jobs"), {}, make_ctx({}))
    assert [m["Body"] for m in received(url)] == ["hello"]


def test_put_renders_the_body_and_sends_objects_as_json(make_ctx: MakeContext) -> None:
    url, arn = queue()
    ymq.call(step(arn, "order \\(.id)"), {"id": 7}, make_ctx({"id": 7}))
    ymq.call(step(arn, "\\({id: .id, ok: true})"), {}, make_ctx({"id": 7}))
    bodies = [m["Body"] for m in received(url)]
    assert sorted(bodies) == sorted(["order 7", json.dumps({"id": 7, "ok": True})])


def test_fifo_put_derives_group_from_execution_and_dedups_a_retry(make_ctx: MakeContext) -> None:
    url, arn = queue("jobs.fifo", FifoQueue="true")
    ctx = make_ctx({}, execution_id="exec-1", step_id="notify")
    first = ymq.call(step(arn), {}, ctx)
    ymq.call(step(arn), {}, ctx)
    [message] = received(url)
    assert message["Attributes"]["MessageGroupId"] == "exec-1"
    assert "SequenceNumber" in first


def test_fifo_ids_depend_on_execution_step_and_body() -> None:
    base = ymq.fifo_ids("e", "s", "b")
    assert base == ymq.fifo_ids("e", "s", "b")
    assert base["MessageDeduplicationId"] != ymq.fifo_ids("e", "s", "c")["MessageDeduplicationId"]
    assert base["MessageDeduplicationId"] != ymq.fifo_ids("e", "t", "b")["MessageDeduplicationId"]


def test_missing_queue_is_an_invalid_argument(make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        ymq.call(step("arn:aws:sqs:us-east-1:123456789012:nope"), {}, make_ctx({}))
    assert caught.value.code == WorkflowErrorCode.STEP_INVALID_ARGUMENT


@pytest.mark.parametrize("arn", ["arn:aws:sqs:us-east-1", "arn:aws:sqs:us-east-1:1:"])
def test_malformed_arn_is_an_invalid_argument(arn: str, make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        ymq.call(step(arn), {}, make_ctx({}))
    assert caught.value.code == WorkflowErrorCode.STEP_INVALID_ARGUMENT


def test_empty_body_is_an_invalid_argument(make_ctx: MakeContext) -> None:
    _, arn = queue()
    with pytest.raises(StepFailure) as caught:
        ymq.call(step(arn, ""), {}, make_ctx({}))
    assert caught.value.code == WorkflowErrorCode.STEP_INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("aws_code", "status", "expected"),
    [
        ("AccessDenied", 403, WorkflowErrorCode.STEP_PERMISSION_DENIED),
        ("KmsAccessDenied", 400, WorkflowErrorCode.STEP_PERMISSION_DENIED),
        ("RequestThrottled", 400, WorkflowErrorCode.STEP_QUOTA_EXCEEDED),
        ("InvalidParameterValue", 400, WorkflowErrorCode.STEP_INVALID_ARGUMENT),
        ("ServiceUnavailable", 503, WorkflowErrorCode.STEP_QUOTA_EXCEEDED),
    ],
)
def test_send_errors_map_to_workflow_codes(
    aws_code: str, status: int, expected: WorkflowErrorCode, make_ctx: MakeContext
) -> None:
    client = stubbed("sqs", "send_message", aws_code, status)
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
    with pytest.raises(StepFailure) as caught:
        ymq.call(step(url), {}, make_ctx({}, client=client))
    assert caught.value.code == expected
