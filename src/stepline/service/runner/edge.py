"""The runner's Lambda edge: SQS records, direct hand-overs and dead letters become step
messages; a message that cannot succeed fails its execution cleanly."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from stepline.service import children
from stepline.service.deps import Services
from stepline.service.runner import routing
from stepline.service.runner.masking import LOGS, log_redaction
from stepline.service.runner.routing import ExecutionGone
from stepline.service.runner.run import Invocation
from stepline.statuses import ExecutionStatus
from stepline.store.errors import ItemTooLarge, Transient
from stepline.store.executions import NotActive
from stepline.store.queue import StepMessage
from stepline.telemetry import logger
from stepline.yawl.errors import WorkflowErrorCode


def fail_poisoned(
    svc: Services,
    execution_id: str,
    reason: str,
    code: WorkflowErrorCode = WorkflowErrorCode.STEP_INTERNAL,
) -> None:
    """Mark an execution FAILED when its message keeps failing (or surely would).

    ``reason`` is redacted with the secrets of the execution when this process is advancing it
    (its message failed here); the dead-letter path gives reasons of its own, without data.
    """
    head = svc.executions.get(execution_id)
    if head is None:
        return
    prefix = "internal error: " if code is WorkflowErrorCode.STEP_INTERNAL else ""
    # Redacted before it is cut, so that no part of a secret value is left.
    message = LOGS.mask_of(execution_id).redact_text(f"{prefix}{reason}")
    error = {"message": message[:1000], "errorCode": code.value}
    # Ended already: maybe by an earlier try of this one that could not tell the parent.
    with suppress(NotActive):
        svc.executions.end(head, ExecutionStatus.FAILED, svc.clock(), error=error)
    children.notify_parent(svc, head)  # a parent waiting on this child goes on (resumes repeat)


def recurs(exc: BaseException) -> bool:
    """Whether handling the message again would fail the same way.

    Only AWS being unavailable or throttling passes with time (the store says so; a botocore
    error that got past it is taken as passing too). Everything else — an item over the size
    limit, an overflow, data the engine cannot take, a bug — fails every delivery alike.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    return not isinstance(exc, Transient | ClientError | BotoCoreError | ConnectionError)


def _give_up(svc: Services, message: StepMessage, exc: BaseException) -> None:
    """End the execution of a message that cannot succeed, with the code that says why."""
    logger.exception("failing the execution: its message cannot succeed")
    if isinstance(exc, ItemTooLarge):
        reason = f"a step's data does not fit the execution log ({exc})"
        fail_poisoned(svc, message.execution_id, reason, WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED)
    else:
        fail_poisoned(svc, message.execution_id, f"{type(exc).__name__}: {exc}")


def process_dead_letter(svc: Services, record: Any) -> None:
    """A steps message the queue gave up on: its execution ends FAILED, never stays active.

    It got there by failing every receive without the runner failing it itself — a crash or
    a timeout on the last one, or an invocation that died (its on-failure record).
    """
    message = _parsed(record.body)
    if message is None:
        return
    receives = record.attributes.approximate_receive_count or "?"
    fail_poisoned(
        svc, message.execution_id, f"its message reached the dead-letter queue ({receives} tries)"
    )


def process_record(svc: Services, record: Any, context: Any, tracer: Any) -> None:
    """One SQS record: parse, advance, and on the last receive fail the execution cleanly."""
    message = _parsed(record.body)
    if message is None:
        return
    receives = int(record.attributes.approximate_receive_count or 1)
    with log_redaction().scope(message.execution_id):  # its secrets, for _give_up too
        try:
            _advance(svc, message, context, tracer)
        except Exception as exc:
            if not recurs(exc) and receives < svc.settings.max_receive_count:
                raise  # it may pass: the queue delivers it again after its visibility timeout
            _give_up(svc, message, exc)


def process_direct(
    svc: Services,
    event: Any,
    context: Any,
    tracer: Any,
    *,
    invocation: Callable[[Callable[[], float]], Invocation] = Invocation,
) -> None:
    """A message handed over as an asynchronous invocation (a new execution's first hop).

    What may pass goes on through the queue, which retries it and, on its last receive, fails
    the execution cleanly: the message is put there rather than left to Lambda's retries. What
    would fail again ends the execution now. ``invocation`` makes the invocation's limits from
    the time the context has left.
    """
    message = _parsed(json.dumps(event))
    if message is None:
        return
    with log_redaction().scope(message.execution_id):  # its secrets, for _give_up too
        try:
            _advance(svc, message, context, tracer, invocation)
        except Exception as exc:
            if recurs(exc):
                _give_up(svc, message, exc)
                return
            logger.exception("handing the message to the steps queue after an error")
            svc.queue.send(message)


def _parsed(body: str) -> StepMessage | None:
    """The step message in ``body``; None (logged) when it is not one."""
    try:
        return StepMessage.from_json(body)
    except ValueError:
        logger.error("dropping a message that is not a step message", extra={"body": body})
        return None


def _advance(
    svc: Services,
    message: StepMessage,
    context: Any,
    tracer: Any,
    limits: Callable[[Callable[[], float]], Invocation] = Invocation,
) -> None:
    """Handle one message within a Lambda invocation; one for an unknown execution is dropped."""
    # Thread-local: the records of a batch advance in threads of their own.
    logger.thread_safe_append_keys(execution_id=message.execution_id)
    invocation = limits(lambda: context.get_remaining_time_in_millis() / 1000)
    try:
        tracer.put_annotation(key="execution_id", value=message.execution_id)
        tracer.capture_method(routing.handle)(svc, message, invocation)
    except ExecutionGone:
        logger.warning("dropping a message for an unknown execution")
