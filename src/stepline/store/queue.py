"""The steps queue: messages name an execution and the log position they extend."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
        self.client.send_message(
            QueueUrl=self.url,
            MessageBody=message.to_json(),
            DelaySeconds=max(0, min(MAX_DELAY_SECONDS, delay_seconds)),
        )
