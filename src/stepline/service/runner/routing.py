"""What a steps-queue message asks for, and what the log says to do with it.

A message behind the log is dropped, unless the item it produced is the last one — then its
producer may have crashed between the write and the send, and the runner repairs what the log
says comes next. A Stop's nudge closes what is open; a long wait parks the message. A message
for a PAUSED execution starts nothing: the head records that no runner goes on (``held``), and
the resume sends the message that does. Any message for an execution redriven since the log's
newest item first reopens the log (``redriving``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

from stepline import engine
from stepline.service import children
from stepline.service.deps import Services
from stepline.service.runner import redriving
from stepline.service.runner.checkpoint import machine_part
from stepline.service.runner.drive import begin, finalize_head, park
from stepline.service.runner.masking import log_redaction
from stepline.service.runner.metrics import execution_metric
from stepline.service.runner.run import Invocation
from stepline.service.runner.stopping import close_after_stop
from stepline.statuses import ADVANCING, ExecutionStatus
from stepline.store.executions import NotActive
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
    reopened = _reopened(svc, message, head, last)
    if reopened is None:
        return
    message, last = reopened
    next_seq = 0 if last is None else last.seq + 1
    resumed = message.resume  # an answer to a waitForTask step need not wait for the wake
    if message.resume:
        # A child ended, or a paused execution was resumed: go on from the newest item (from
        # the start, before the first) unless a runner is busy with calls (it polls its
        # children, and reads the head, itself after them).
        if last is not None and last.calls:
            return
        message = replace(message, seq=next_seq, resume=False)
    if message.nudge:
        _nudged(svc, message, head, last)
    elif message.seq != next_seq:
        _behind(svc, message, invocation, head, last)
    elif head.status == ExecutionStatus.PAUSED and not _past_quota(svc, head):
        if last is not None and last.ended:
            finalize_head(svc, _unpaused(head), last.machine)
        else:
            _hold(svc, message, invocation)
    elif _due(svc, message, _unpaused(head), last, early=resumed):
        # Past its time quota a paused execution ends too: its run fails at once.
        begin(svc, message, _unpaused(head), last, invocation, head_read)


def _reopened(
    svc: Services, message: StepMessage, head: ExecutionRecord, last: LogItem | None
) -> tuple[StepMessage, LogItem | None] | None:
    """The message and the log's newest item to go on with. Redriven since that item: the log
    is reopened first (once: a runner that loses the race drops its message, None), then the
    execution goes on from the new item at once (a resume)."""
    if not redriving.redriven(head, last):
        return message, last
    assert last is not None
    if not redriving.reopen(svc, head, last, message.seq):
        return None
    return StepMessage(head.id, 0, resume=True), svc.log.last(head.id)


def _past_quota(svc: Services, head: ExecutionRecord) -> bool:
    """The execution has outlived its time quota (paused or not, it ends then)."""
    return svc.clock() - head.quota_from > timedelta(hours=svc.settings.max_execution_hours)


def _unpaused(head: ExecutionRecord) -> ExecutionRecord:
    """A paused head as the runner treats it when the execution ends anyway (its log ended,
    or its time quota is over): the end is no new step, and ends a PAUSED head too."""
    if head.status != ExecutionStatus.PAUSED:
        return head
    return replace(head, status=ExecutionStatus.RUNNING)


def _hold(svc: Services, message: StepMessage, invocation: Invocation) -> None:
    """A message for a paused execution: nothing starts, and the head records that no
    runner goes on (so the resume sends a message); resumed meanwhile, it is handled as usual."""
    try:
        svc.executions.hold(message.execution_id)
    except NotActive as lost:
        if lost.record is not None and lost.record.status in ADVANCING:
            _handle(svc, message, invocation)


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


def _due(
    svc: Services,
    message: StepMessage,
    head: ExecutionRecord,
    last: LogItem | None,
    *,
    early: bool = False,
) -> bool:
    """Whether the execution should advance now (else: finished, stopped, or still waiting;
    ``early``: a resume, which goes on before the wake-up too)."""
    if last is not None and last.ended:
        finalize_head(svc, head, last.machine)
        return False
    if head.status not in ADVANCING:
        if head.status == ExecutionStatus.STOPPED and last is not None:
            execution_metric("ExecutionsStopped")
        close_after_stop(svc, head, last, 0 if last is None else last.seq + 1, message.seq)
        return False
    wake = None if early or last is None else last.wake
    if wake is not None and from_stored(wake) > svc.clock():
        park(svc, message, from_stored(wake))  # a long wait hops until it is due
        return False
    return True


def _behind(
    svc: Services,
    message: StepMessage,
    invocation: Invocation,
    head: ExecutionRecord,
    last: LogItem | None,
) -> None:
    """A duplicate, a late message, or the survivor of a crash between write and send."""
    if last is None or message.seq > last.seq + 1 or last.by != message.seq:
        return
    if last.ended:
        finalize_head(svc, _unpaused(head), last.machine)
        return
    if head.status == ExecutionStatus.PAUSED:
        if last.wake is None and not last.calls:
            # Its producer stopped for the pause, and may have died before it said so.
            _hold(svc, StepMessage(head.id, last.seq + 1), invocation)
            return
        # Its producer died before it sent what comes next: sent now, it is held when it
        # arrives (a wake-up keeps its due time; calls are made again once resumed).
    elif head.status not in ADVANCING:
        return
    if last.wake is not None:
        park(svc, StepMessage(head.id, last.seq + 1), from_stored(last.wake))
    elif last.calls:
        # The producer died while performing calls: perform them again (at-least-once).
        svc.queue.send(StepMessage(head.id, last.seq + 1))
