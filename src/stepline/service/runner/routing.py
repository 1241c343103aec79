"""What a steps-queue message asks for, and what the log says to do with it.

A message behind the log is dropped, unless the item it produced is the last one — then its
producer may have crashed between the write and the send, and the runner repairs what the log
says comes next. A Stop's nudge closes what is open; a long wait parks the message.
"""

from __future__ import annotations

import time
from dataclasses import replace

from stepline import engine
from stepline.service import children
from stepline.service.deps import Services
from stepline.service.runner.checkpoint import machine_part
from stepline.service.runner.drive import begin, finalize_head, park
from stepline.service.runner.masking import log_redaction
from stepline.service.runner.metrics import execution_metric
from stepline.service.runner.run import Invocation
from stepline.service.runner.stopping import close_after_stop
from stepline.statuses import ADVANCING, ExecutionStatus
from stepline.store.log import LogItem
from stepline.store.queue import StepMessage
from stepline.store.records import ExecutionRecord
from stepline.times import from_stored


class ExecutionGone(Exception):
    """The message names an execution that does not exist."""


def handle(svc: Services, message: StepMessage, invocation: Invocation) -> None:
    """Process one steps-queue message."""
    redaction = log_redaction()
    with redaction.scope(message.execution_id):
        try:
            _handle(svc, message, invocation)
        except Exception as exc:
            # What escapes (to the tracer, the logs, _give_up) quotes no secret value.
            redaction.mask_of(message.execution_id).redact_exception(exc)
            raise


def _handle(svc: Services, message: StepMessage, invocation: Invocation) -> None:
    head_read = time.monotonic()
    head = svc.executions.get(message.execution_id)
    if head is None:
        raise ExecutionGone(message.execution_id)
    last = svc.log.last(head.id)
    next_seq = 0 if last is None else last.seq + 1
    if message.resume:
        # A child ended: go on from the newest item unless a runner is busy with calls (it
        # polls its children itself after them).
        if last is not None and not last.calls and not last.ended:
            message = replace(message, seq=next_seq, resume=False)
        else:
            return
    if message.nudge:
        _nudged(svc, message, head, last)
    elif message.seq != next_seq:
        _behind(svc, message, head, last)
    elif _due(svc, message, head, last):
        begin(svc, message, head, last, invocation, head_read)


def _nudged(
    svc: Services, message: StepMessage, head: ExecutionRecord, last: LogItem | None
) -> None:
    """Stop or Terminate asks to close what is open. A runner performing calls does that
    itself after them; a crashed one gets its message redelivered."""
    if head.status != ExecutionStatus.STOPPED:
        return
    children.notify_parent(svc, head)
    if last is not None and not last.ended and not last.calls:
        waited = engine.stored_children(machine_part(last))
        children.stop_children(svc, waited, terminate=head.cancel == "TERMINATE")
        close_after_stop(svc, head, last, last.seq + 1, message.seq)


def _due(svc: Services, message: StepMessage, head: ExecutionRecord, last: LogItem | None) -> bool:
    """Whether the execution should advance now (else: finished, stopped, or still waiting)."""
    if last is not None and last.ended:
        finalize_head(svc, head, last.machine)
        return False
    if head.status not in ADVANCING:
        if head.status == ExecutionStatus.STOPPED and last is not None:
            execution_metric("ExecutionsStopped")
        close_after_stop(svc, head, last, 0 if last is None else last.seq + 1, message.seq)
        return False
    if last is not None and last.wake is not None and from_stored(last.wake) > svc.clock():
        park(svc, message, from_stored(last.wake))  # a long wait hops until it is due
        return False
    return True


def _behind(
    svc: Services, message: StepMessage, head: ExecutionRecord, last: LogItem | None
) -> None:
    """A duplicate, a late message, or the survivor of a crash between write and send."""
    if last is None or message.seq > last.seq + 1 or last.by != message.seq:
        return
    if last.ended:
        finalize_head(svc, head, last.machine)
        return
    if head.status not in ADVANCING:
        return
    if last.wake is not None:
        park(svc, StepMessage(head.id, last.seq + 1), from_stored(last.wake))
    elif last.calls:
        # The producer died while performing calls: perform them again (at-least-once).
        svc.queue.send(StepMessage(head.id, last.seq + 1))
