"""Drive executions to their end in this process: drain the steps queue into the runner.

Used by tests and benchmarks that run the real runner on moto without a dev stack. Delayed
messages are honoured by the emulated queue, so waits take their (scaled) time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from stepline.api import queries
from stepline.service import runner
from stepline.service.deps import Services
from stepline.statuses import ENDED
from stepline.store.queue import StepMessage


def drain(
    svc: Services,
    *,
    until: Callable[[], bool],
    deadline: float = 30.0,
    on_message: Callable[[StepMessage], None] | None = None,
    invocation: Callable[[], runner.Invocation] = runner.Invocation,
    handle: Callable[[Services, StepMessage, runner.Invocation], None] = runner.handle,
) -> None:
    """Feed queued messages to the runner until ``until()`` holds (or fail at the deadline).

    ``on_message`` sees each message before the runner does (tests use it to deliver the
    message a second time, or to crash on it); ``invocation`` makes the limits of each
    invocation (tests give it a spent time budget); ``handle`` is what takes each message as
    one runner invocation (benchmarks time ``runner.handle`` in it).
    """
    sqs = svc.queue.client
    end = time.monotonic() + deadline
    while not until():
        if time.monotonic() > end:
            raise TimeoutError("executions did not reach the expected state in time")
        reply = sqs.receive_message(
            QueueUrl=svc.queue.url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
        )
        messages = reply.get("Messages", [])
        if not messages:
            time.sleep(0.02)  # only delayed messages are left: let the emulated clock move
        for message in messages:
            step = StepMessage.from_json(message["Body"])
            if on_message is not None:
                on_message(step)
            handle(svc, step, invocation())
            sqs.delete_message(QueueUrl=svc.queue.url, ReceiptHandle=message["ReceiptHandle"])


def run_to_end(
    svc: Services,
    execution_id: str,
    deadline: float = 30.0,
    *,
    invocation: Callable[[], runner.Invocation] = runner.Invocation,
    handle: Callable[[Services, StepMessage, runner.Invocation], None] = runner.handle,
) -> dict[str, Any]:
    """Drain until the execution has ended; return its Get answer."""

    def ended() -> bool:
        record = svc.executions.get(execution_id)
        return record is not None and record.status in ENDED

    drain(svc, until=ended, deadline=deadline, invocation=invocation, handle=handle)
    execution: dict[str, Any] = queries.get(svc, execution_id)["execution"]
    return execution
