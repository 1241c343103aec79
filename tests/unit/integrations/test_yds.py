"""YDS put → Kinesis PutRecord on moto."""

from __future__ import annotations

import uuid

import boto3
import pytest

from stepline.integrations import yds
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import YDS
from tests.unit.integrations.conftest import MakeContext, stubbed

pytestmark = pytest.mark.usefixtures("aws")


def step(topic: str, body: str = "hello", key: str = "k") -> YDS:
    return YDS.model_validate(
        {
            "database": "/ru-central1/b1g/etn",
            "topic": topic,
            "put": {"body": body, "partitionKey": key},
        }
    )


def stream(name: str = "events") -> str:
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn: str = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
    return arn


def records(name: str = "events") -> list[tuple[str, bytes]]:
    kinesis = boto3.client("kinesis")
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    reply = kinesis.get_records(ShardIterator=iterator)
    return [(r["PartitionKey"], r["Data"]) for r in reply["Records"]]


@pytest.mark.parametrize("topic", ["events", "/ru-central1/b1g/etn/events", "arn"])
def test_put_writes_a_record_to_the_stream(topic: str, make_ctx: MakeContext) -> None:
    arn = stream()
    output = yds.call(step(arn if topic == "arn" else topic), {}, make_ctx({}))
    assert records() == [("k", b"hello")]
    assert output["ShardId"].startswith("shardId-")
    assert output["SequenceNumber"]


def test_put_renders_body_and_partition_key(make_ctx: MakeContext) -> None:
    stream()
    data = {"user": "ann", "n": 3}
    yds.call(step("events", "\\({n: .n})", "\\(.user)"), data, make_ctx(data))
    assert records() == [("ann", b'{"n": 3}')]


def test_empty_partition_key_becomes_a_random_uuid(make_ctx: MakeContext) -> None:
    stream()
    yds.call(step("events", key=""), {}, make_ctx({}))
    [(key, _)] = records()
    assert str(uuid.UUID(key)) == key


def test_too_long_partition_key_is_an_invalid_argument(make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        yds.call(step("events", key="k" * 257), {}, make_ctx({}))
    assert caught.value.code == WorkflowErrorCode.STEP_INVALID_ARGUMENT


def test_record_over_one_megabyte_exceeds_the_data_limit(make_ctx: MakeContext) -> None:
    big = {"text": "x" * (1024 * 1024 + 1)}
    with pytest.raises(StepFailure) as caught:
        yds.call(step("events", "\\(.text)"), big, make_ctx(big))
    assert caught.value.code == WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED


def test_missing_stream_is_an_invalid_argument(make_ctx: MakeContext) -> None:
    with pytest.raises(StepFailure) as caught:
        yds.call(step("nope"), {}, make_ctx({}))
    assert caught.value.code == WorkflowErrorCode.STEP_INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("aws_code", "status", "expected"),
    [
        ("AccessDeniedException", 400, WorkflowErrorCode.STEP_PERMISSION_DENIED),
        ("KMSAccessDeniedException", 400, WorkflowErrorCode.STEP_PERMISSION_DENIED),
        ("ProvisionedThroughputExceededException", 400, WorkflowErrorCode.STEP_QUOTA_EXCEEDED),
        ("ValidationException", 400, WorkflowErrorCode.STEP_INVALID_ARGUMENT),
        ("InternalFailure", 500, WorkflowErrorCode.STEP_QUOTA_EXCEEDED),
    ],
)
def test_put_errors_map_to_workflow_codes(
    aws_code: str, status: int, expected: WorkflowErrorCode, make_ctx: MakeContext
) -> None:
    client = stubbed("kinesis", "put_record", aws_code, status)
    with pytest.raises(StepFailure) as caught:
        yds.call(step("events"), {}, make_ctx({}, client=client))
    assert caught.value.code == expected
