"""YDS put → Kinesis PutRecord.

``topic`` names the stream: a Kinesis stream ARN (sent as ``StreamARN``) or a name (a YDS path
such as ``/ru-central1/b1g…/etn…/my-stream`` is reduced to its last segment); ``database`` has
no Kinesis counterpart and is ignored. ``Data`` is the rendered ``put.body`` (a non-string value
is sent as JSON, UTF-8). Kinesis needs a 1-256 character partition key: an empty
``put.partitionKey`` is replaced by a random UUID (REFERENCE §4.5, Stepline choice).

Output (REFERENCE is silent): ``{"ShardId": ..., "SequenceNumber": ...}``.
Errors: see ``aws_errors``; a missing stream is ``STEP_INVALID_ARGUMENT``, a record over 1 MB
``STEP_DATA_LIMIT_EXCEEDED``, ``ProvisionedThroughputExceeded`` ``STEP_QUOTA_EXCEEDED``.
IAM: ``kinesis:PutRecord`` (+ ``kms:GenerateDataKey`` for streams with a customer key).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from stepline.integrations import CallContext, aws_errors
from stepline.integrations.boundary import refuse_own
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import YDS

MAX_RECORD_BYTES = 1024 * 1024
MAX_PARTITION_KEY = 256


def call(step: YDS, step_input: Any, ctx: CallContext) -> dict[str, Any]:
    """Put the rendered body into the stream and return where it landed."""
    body = ctx.render(step.put.body)
    data = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()
    if len(data) > MAX_RECORD_BYTES:
        raise StepFailure(
            WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED,
            f"yds: the record is {len(data)} bytes, Kinesis takes at most {MAX_RECORD_BYTES}",
        )
    refuse_own(ctx.reserved, "yds", step.topic)
    key = partition_key(ctx.render(step.put.partition_key))
    params: dict[str, Any] = {"Data": data, "PartitionKey": key, **stream(step.topic)}
    kinesis = aws_errors.client(ctx, "kinesis")
    with aws_errors.translated(ctx.timeout, action=f"PutRecord {step.topic}"):
        reply = kinesis.put_record(**params)
    return {"ShardId": reply["ShardId"], "SequenceNumber": reply["SequenceNumber"]}


def stream(topic: str) -> dict[str, str]:
    """The PutRecord parameter naming the stream of a YDS topic."""
    if topic.startswith("arn:"):
        return {"StreamARN": topic}
    name = topic.rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"yds: bad topic {topic!r}")
    return {"StreamName": name}


def partition_key(value: Any) -> str:
    """The rendered partition key as text; a random UUID when it is empty."""
    key = value if isinstance(value, str) else json.dumps(value)
    if not key:
        return str(uuid.uuid4())
    if len(key) > MAX_PARTITION_KEY:
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT,
            f"yds: the partition key has {len(key)} characters, at most {MAX_PARTITION_KEY}",
        )
    return key
