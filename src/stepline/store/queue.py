"""The steps queue: messages name an execution and the log position they extend.

A new execution's first message can skip the queue: it goes to the runner as an asynchronous
Lambda invocation (no queue requests to pay for, no poll to wait for). What that invocation
cannot finish comes back to the queue: the runner re-queues the message on an error, and
Lambda's on-failure destination (the steps queue) takes it when the invocation itself dies.

SQS failures come out as :mod:`stepline.store.errors` (``Throttled``, ``Unavailable``,
``Refused``); a hop the runner function refuses is no failure: the queue takes the message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stepline.store.errors import translated

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_DELAY_SECONDS = 900


@dataclass(frozen=True)
class StepMessage:
    """Advance ``execution_id`` from log position ``seq`` (a position, never state)."""

    execution_id: str
    seq: int
    nudge: bool = False
    """Sent by Stop and Terminate: close what is open now rather than at the next wake-up."""
    resume: bool = False
    """Sent when a child execution ends: its parent's Workflow step may go on."""

    def to_json(self) -> str:
        """The message body."""
        body: dict[str, Any] = {"executionId": self.execution_id, "seq": self.seq}
        if self.nudge:
            body["nudge"] = True
        if self.resume:
            body["resume"] = True
        return json.dumps(body)

    @classmethod
    def from_json(cls, body: str) -> StepMessage:
        """Parse a message body; raises ValueError when it is not a step message."""
        data: Any = json.loads(body)
        if isinstance(data, dict) and isinstance(data.get("requestPayload"), dict):
            data = data["requestPayload"]  # a failed asynchronous invocation, via its destination
        if not isinstance(data, dict) or not isinstance(data.get("executionId"), str):
            raise ValueError("not a step message")
        seq = data.get("seq")
        if not isinstance(seq, int) or seq < 0:
            raise ValueError("step message without a valid seq")
        return cls(
            execution_id=data["executionId"],
            seq=seq,
            nudge=data.get("nudge") is True,
            resume=data.get("resume") is True,
        )


class StepsQueue:
    """Sends step messages, with an optional delay of up to 15 minutes."""

    def __init__(self, client: SQSClient, url: str) -> None:
        self.client = client
        self.url = url

    def send(self, message: StepMessage, delay_seconds: int = 0) -> None:
        """Put one message on the queue."""
        with translated("sqs"):
            self.client.send_message(
                QueueUrl=self.url,
                MessageBody=message.to_json(),
                DelaySeconds=max(0, min(MAX_DELAY_SECONDS, delay_seconds)),
            )


class RunnerHop:
    """Hands a message straight to the runner function; the queue when that cannot be done."""

    def __init__(self, client: Any, function: str | None, queue: StepsQueue) -> None:
        self.client = client
        self.function = function
        self.queue = queue

    def send(self, message: StepMessage) -> None:
        """Invoke the runner asynchronously with ``message``, or put it on the queue."""
        if self.function:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                self.client.invoke(
                    FunctionName=self.function,
                    InvocationType="Event",
                    Payload=message.to_json().encode(),
                )
                return
            except (BotoCoreError, ClientError):
                pass  # throttled, not permitted, unreachable: the queue is always there
        self.queue.send(message)
