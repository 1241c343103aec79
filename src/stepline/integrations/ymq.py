"""YMQ put → SQS SendMessage.

``queueArn`` may be an SQS ARN (``arn:aws:sqs:<region>:<account>:<name>``), a queue URL, a
Yandex ``yrn:yc:ymq:…:<name>`` or a bare queue name; everything but a URL is resolved with
``GetQueueUrl``. The body is the rendered ``put.body`` (a non-string value is sent as JSON).

FIFO queues (``.fifo``): YaWL has no fields for them, so Stepline derives them —
``MessageGroupId`` is the execution id (messages of one execution keep their order) and
``MessageDeduplicationId`` is a SHA-256 of execution id, step id and body, so a retried attempt
whose first send did arrive is dropped by SQS within its 5-minute deduplication window (the same
body sent again by the same step of the same execution within that window is dropped as well).

Output (REFERENCE is silent): ``{"MessageId": ...}``, plus ``"SequenceNumber"`` on FIFO queues.
Errors: see ``aws_errors``; a missing queue is ``STEP_INVALID_ARGUMENT``.
IAM: ``sqs:GetQueueUrl``, ``sqs:SendMessage`` (+ ``kms:GenerateDataKey``/``kms:Decrypt`` for
queues encrypted with a customer key).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from stepline.integrations import CallContext, aws_errors
from stepline.integrations.boundary import refuse_own
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import YMQ


def call(step: YMQ, step_input: Any, ctx: CallContext) -> dict[str, Any]:
    """Send the rendered body to the queue and return its message id."""
    body = ctx.render(step.put.body)
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    if not text:
        raise StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, "ymq: the message body is empty")
    refuse_own(ctx.reserved, "ymq", step.queue_arn)
    sqs = aws_errors.client(ctx, "sqs")
    with aws_errors.translated(ctx.timeout, action=f"SendMessage {step.queue_arn}"):
        url = queue_url(sqs, step.queue_arn)
    refuse_own(ctx.reserved, "ymq", url)
    with aws_errors.translated(ctx.timeout, action=f"SendMessage {step.queue_arn}"):
        params: dict[str, Any] = {"QueueUrl": url, "MessageBody": text}
        if url.endswith(".fifo"):
            params.update(fifo_ids(ctx.execution_id, ctx.step_id, text))
        reply = sqs.send_message(**params)
    output = {"MessageId": reply["MessageId"]}
    if "SequenceNumber" in reply:
        output["SequenceNumber"] = reply["SequenceNumber"]
    return output


def queue_url(sqs: Any, queue: str) -> str:
    """The URL of a queue given by URL, SQS ARN, YMQ YRN or name."""
    if queue.startswith(("https://", "http://")):
        return queue
    params: dict[str, str] = {"QueueName": queue}
    parts = queue.split(":")
    if queue.startswith(("arn:", "yrn:")):
        if len(parts) < 6 or not parts[-1]:
            raise StepFailure(
                WorkflowErrorCode.STEP_INVALID_ARGUMENT, f"ymq: {queue!r} is not a queue ARN"
            )
        params["QueueName"] = parts[-1]
        if queue.startswith("arn:") and parts[4]:
            params["QueueOwnerAWSAccountId"] = parts[4]
    url: str = sqs.get_queue_url(**params)["QueueUrl"]
    return url


def fifo_ids(execution_id: str, step_id: str, body: str) -> dict[str, str]:
    """MessageGroupId and MessageDeduplicationId of a FIFO message, derived deterministically."""
    digest = hashlib.sha256("\0".join((execution_id, step_id, body)).encode()).hexdigest()
    group = (execution_id or "stepline")[:128]
    return {"MessageGroupId": group, "MessageDeduplicationId": digest}
