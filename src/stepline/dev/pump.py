"""SQS event source mappings as Lambda's poller runs them, from the deployed mappings.

Each :class:`~stepline.dev.deploy.QueueMapping` gets a few pollers. Like Lambda's, they use
the function's execution role (so the role needs ``sqs:ReceiveMessage``, ``DeleteMessage`` and
``GetQueueAttributes``), take up to ``BatchSize`` messages, and hand them to the function as
one SQS event with every record's attributes and message attributes. A function error leaves
the whole batch to reappear after its visibility timeout; with ``ReportBatchItemFailures``
only the reported records stay, the rest are deleted.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from stepline.dev.deploy import QueueMapping
from stepline.dev.functions import StackFunctions

POLLERS = 4


def message_attributes(message: dict[str, Any]) -> dict[str, Any]:
    """A message's attributes in the shape Lambda's SQS event gives them."""
    converted = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        item: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            item["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
        converted[name] = item
    return converted


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """An SQS event as Lambda delivers it."""
    region = queue_arn.split(":")[3]
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": message_attributes(m),
                "md5OfBody": m.get("MD5OfBody", ""),
                "md5OfMessageAttributes": m.get("MD5OfMessageAttributes"),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class QueuePump:
    """The pollers of one event source mapping."""

    def __init__(
        self, mapping: QueueMapping, functions: StackFunctions, pollers: int = POLLERS
    ) -> None:
        self.mapping = mapping
        self.functions = functions
        self.function = functions.deployment.function_by_arn(mapping.function_arn)
        self.stopping = threading.Event()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(pollers)]
        self._sqs: Any = None
        self._url = ""

    def _client(self) -> Any:
        """An SQS client signed as the function's execution role, as Lambda's poller is."""
        credentials = self.functions.role_credentials(
            self.function.role, f"{self.function.name}-poller", "lambda.amazonaws.com"
        )
        sqs = self.functions.clients(
            "sqs",
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
        )
        name = self.mapping.queue_arn.rsplit(":", 1)[1]
        self._url = self.functions.clients("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        return sqs

    def start(self) -> None:
        """Start polling."""
        if not self.mapping.enabled:
            return
        self._sqs = self._client()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop polling (a batch in progress finishes)."""
        self.stopping.set()

    def _work(self) -> None:
        while not self.stopping.is_set():
            try:
                self.poll_once()
            except Exception:  # the emulator going away at shutdown, or a denied call
                if self.stopping.wait(0.5):
                    return

    def poll_once(self, wait_seconds: int = 1) -> int:
        """Receive one batch and hand it to the function; returns how many messages."""
        reply = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self.mapping.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = reply.get("Messages", [])
        if not messages:
            return 0
        event = sqs_event(messages, self.mapping.queue_arn)
        result = self.functions.invoke(self.function, json.dumps(event).encode())
        if result.function_error is not None:
            return len(messages)  # the whole batch comes back after its visibility timeout
        failed: set[str] = set()
        if self.mapping.report_batch_item_failures:
            try:
                answer = json.loads(result.payload or b"{}") or {}
            except ValueError:
                answer = {}
            failed = {f.get("itemIdentifier") for f in answer.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        return len(messages)
