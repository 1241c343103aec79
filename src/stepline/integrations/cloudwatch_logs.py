"""Writing an execution's log lines to a CloudWatch Logs group (the runner's, not a step's).

The invariant: :meth:`LogWriter.put` never raises and makes a bounded number of requests (one
PutLogEvents per batch of lines; a CreateLogStream and a second PutLogEvents the first time a
stream is written to), each with the client's own bounds. A failure comes back as a short text
for the runner to log, and the lines are dropped: writing logs never fails or holds up an
execution. The group must exist (its retention is its owner's choice); the stream is created.

PutLogEvents takes at most 10,000 events and 1,048,576 bytes per request (each event's UTF-8
message plus 26 bytes), in chronological order; an event is at most 256 KB. Lines are sorted,
cut to that size, and sent in as many requests as those limits ask for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

MAX_EVENTS: Final = 10_000
MAX_BATCH_BYTES: Final = 1_048_576
EVENT_OVERHEAD: Final = 26
MAX_MESSAGE_BYTES: Final = 256 * 1024 - EVENT_OVERHEAD


@dataclass(frozen=True)
class LogEvent:
    """One line: when (epoch milliseconds) and what."""

    timestamp: int
    message: str


class LogWriter:
    """Puts lines into streams of log groups with one client (the runner's own)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def put(self, group: str, stream: str, events: list[LogEvent]) -> str | None:
        """Write ``events`` to ``group``/``stream``; None when written, else why not."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            rejected = [r for b in batches(events) if (r := self._put(group, stream, b))]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}"[:500]
        except BotoCoreError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        return (
            f"some lines rejected (too old, too new or expired): {rejected}" if rejected else None
        )

    def _put(self, group: str, stream: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
        """One PutLogEvents (after creating the stream if it is new); what it rejected."""
        from botocore.exceptions import ClientError

        request = {"logGroupName": group, "logStreamName": stream, "logEvents": batch}
        try:
            return dict(self.client.put_log_events(**request).get("rejectedLogEventsInfo") or {})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
        try:  # the stream is new (or the group is missing: then this fails as it should)
            self.client.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise
        return dict(self.client.put_log_events(**request).get("rejectedLogEventsInfo") or {})


def batches(events: list[LogEvent]) -> Iterator[list[dict[str, Any]]]:
    """The events in chronological order, as PutLogEvents batches within its limits."""
    batch: list[dict[str, Any]] = []
    size = 0
    for event in sorted(events, key=lambda e: e.timestamp):
        message = _cut(event.message)
        cost = len(message.encode()) + EVENT_OVERHEAD
        if batch and (len(batch) >= MAX_EVENTS or size + cost > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append({"timestamp": event.timestamp, "message": message})
        size += cost
    if batch:
        yield batch


def _cut(message: str) -> str:
    """A message within an event's limit (cut on a character boundary)."""
    data = message.encode()
    if len(data) <= MAX_MESSAGE_BYTES:
        return message
    return data[: MAX_MESSAGE_BYTES - 3].decode("utf-8", "ignore") + "..."
