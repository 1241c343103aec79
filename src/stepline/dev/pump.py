"""Feeds the steps queue to the runner handler as SQS event batches, like Lambda's poller."""

from __future__ import annotations

import threading
import time
from typing import Any

from stepline.dev.gateway import Functions

BATCH_SIZE = 10


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """An SQS event as Lambda delivers it."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


class QueuePump:
    """Some workers, each a separate runner instance, polling the steps queue."""

    def __init__(self, sqs: Any, queue_url: str, functions: Functions, names: list[str]) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.functions = functions
        self.names = names
        self.stopping = threading.Event()
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = arn["Attributes"]["QueueArn"]
        self._threads = [threading.Thread(target=self._work, args=(n,), daemon=True) for n in names]

    def start(self) -> None:
        """Start polling."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop polling (a batch in progress finishes)."""
        self.stopping.set()

    def _work(self, function: str) -> None:
        while not self.stopping.is_set():
            try:
                self._poll_once(function)
            except Exception:  # the emulator going away at shutdown, or a handler crash
                if self.stopping.is_set():
                    return
                time.sleep(0.5)

    def _poll_once(self, function: str) -> None:
        reply = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=BATCH_SIZE,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
        )
        messages = reply.get("Messages", [])
        if not messages:
            return
        result = self.functions.invoke(function, sqs_event(messages, self.queue_arn))
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
