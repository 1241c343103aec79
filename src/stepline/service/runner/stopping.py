"""Stop, Terminate and Pause as a run sees them: nothing starts after Stop returns, calls under
way are cancelled on Terminate, and what is left open is closed; after Pause the calls under
way finish and their results are kept, nothing new starts, and the run holds until resumed."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime

from stepline import engine
from stepline.service import children
from stepline.service.deps import Services
from stepline.service.runner import execution_logs
from stepline.service.runner.checkpoint import (
    checkpoint,
    log_expiry,
    mark_running,
    running_horizon,
)
from stepline.service.runner.run import Run
from stepline.statuses import ADVANCING, ExecutionStatus
from stepline.store.executions import NotActive
from stepline.store.log import LogItem, LostRace
from stepline.store.queue import StepMessage
from stepline.store.records import ExecutionRecord
from stepline.times import stored

# A batch of calls starts on a head read at most this long ago (the read that began the
# invocation, or the one after the previous batch) rather than on a read of its own.
HEAD_FRESH = 0.1


def _head_active(run: Run) -> tuple[bool, ExecutionRecord | None]:
    """Whether the head was read active under HEAD_FRESH ago, else whether it is now (read
    again); the head read, when it was."""
    if time.monotonic() - run.head_read < HEAD_FRESH:
        return True, None
    read = time.monotonic()
    head = run.svc.executions.get(run.head.id)
    if head is not None and head.status in ADVANCING:
        run.head_read, run.pausing = read, False  # resumed, if it was paused
        return True, head
    return False, head


PAUSE_LOOK = 1.0
"""Seconds of steps run inline between two looks at the head for a pause (a batch of calls
always starts on a fresh read, which sees a pause too): a run under a second, most of them,
reads nothing more for it."""


def pause_asked(run: Run) -> bool:
    """Asked before each new step: whether the execution has been paused (the head is read
    at most once per PAUSE_LOOK for it; a Stop is seen before the next calls)."""
    if run.pausing:
        return True
    if time.monotonic() - run.head_read < PAUSE_LOOK:
        return False
    _, head = _head_active(run)
    run.pausing = head is not None and head.status == ExecutionStatus.PAUSED
    return run.pausing


def hold(run: Run, wake: datetime | None = None) -> None:
    """The execution was paused: keep what the run has done in a log item, start nothing,
    and record on the head that no runner goes on, so that the resume sends the message that
    does. Resumed meanwhile, the run goes on in a new invocation (the resume sent nothing)."""
    if not checkpoint(run, wake=wake):
        return
    try:
        run.svc.executions.hold(run.head.id)
    except NotActive as lost:
        if lost.record is not None and lost.record.status in ADVANCING:
            run.svc.queue.send(StepMessage(run.head.id, run.seq))


def still_active(run: Run) -> bool:
    """Before calls start, the head must have been read active a moment ago: after Stop or
    Terminate returns, nothing starts; after Pause, the calls wait for the resume."""
    active, head = _head_active(run)
    if active:
        return True
    if head is not None and head.status == ExecutionStatus.PAUSED:
        hold(run)
        return False
    children.stop_children(
        run.svc,
        engine.child_executions(run.machine),
        terminate=head is None or head.cancel == "TERMINATE",
    )
    run.finished = engine.cancel_open(run.machine, run.svc.clock())
    run.stopped = True
    checkpoint(run, ended=True)
    return False


def active_after_calls(run: Run) -> bool:
    """After calls return: if Stop came meanwhile, record their results and start nothing.

    Calls that returned within HEAD_FRESH of the last read need no read of their own: the
    next batch starts only on a read that fresh anyway, so quick calls cost one head read per
    HEAD_FRESH, not one per batch (a head with a large input is several read units)."""
    active, head = _head_active(run)
    if active:
        return True
    adv = engine.advance(
        run.spec, run.machine, run.svc.clock(), run.results, start_new=False, secrets=run.secrets
    )
    run.machine, run.results = adv.machine, {}
    run.finished.extend(adv.finished)
    if head is not None and head.status == ExecutionStatus.PAUSED:
        # Paused: the results are kept and nothing new starts. If that was the last step,
        # the execution ends (the end is no new step): the drive writes it.
        if adv.ended:
            run.head = replace(run.head, status=ExecutionStatus.RUNNING)  # as the end sees it
            return True
        hold(run)
        return False
    run.finished.extend(engine.cancel_open(run.machine, run.svc.clock()))
    run.stopped = True
    checkpoint(run, ended=True)
    return False


def terminated(run: Run) -> bool:
    """Polled while slow calls run: whether Terminate has come (a Stop is seen after the
    calls). The head read also turns a run past RUNNING_AFTER to RUNNING."""
    head = run.svc.executions.get(run.head.id)
    if head is None:
        return True
    run.head = head
    if head.status == ExecutionStatus.QUEUED and run.svc.clock() >= running_horizon(run):
        mark_running(run)
    return head.cancel == "TERMINATE"


def cancel(run: Run, running: set[int]) -> None:
    """Terminate: running entries go CANCEL_REQUESTED, then everything open CANCELLED."""
    engine.request_cancel(run.machine, running)
    if checkpoint(run):
        run.finished = engine.cancel_open(run.machine, run.svc.clock())
        run.stopped = True
        checkpoint(run, ended=True)


def close_after_stop(
    svc: Services, head: ExecutionRecord, last: LogItem | None, seq: int, by: int
) -> None:
    """The execution was stopped while no step was running: close what is still open."""
    if last is None or not last.open:
        return
    closed = engine.cancel_entries(last.open, svc.clock())
    at = svc.clock()
    item = LogItem(
        seq=seq,
        by=by,
        at=stored(at),
        entries=closed,
        ended=True,
        expires_at=log_expiry(svc, at),
        redrive=head.redrive_count,
    )
    try:
        svc.log.append(head.id, item)
    except LostRace:
        return
    lines = execution_logs.Lines(execution_logs.destination(svc, head))
    previous = {int(e["n"]): e for e in last.open}
    execution_logs.record(lines, head, at, entries=closed, previous=previous, outcome="STOPPED")
    execution_logs.flush(svc, head, lines)
