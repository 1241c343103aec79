"""Pause and Resume (a Stepline extension of ExecutionService).

Pause moves a QUEUED or RUNNING execution to PAUSED: the step that is running completes and
its result is kept, no new step starts; Wait timers and retry delays keep their due time.
Resume moves it back to the status it paused from (RUNNING, or QUEUED if it never ran) and the
execution goes on. Every move is one conditional write of the head (its expected status):

- Pause on a PAUSED execution, and Resume on a QUEUED or RUNNING one, succeed and change
  nothing (a retried call gets the answer of the first); on an ended one both are
  FAILED_PRECONDITION.
- A runner that stops for the pause records it on the head (``held``); Resume sends a message
  only then, so exactly one runner goes on: the held one's message, or the runner still busy
  when Resume came, which sees the head RUNNING again. A lost message is re-driven by the
  reconciler (Resume files the execution under its own time on the watch list).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from stepline.access import Principal, Role
from stepline.errors import Aborted, FailedPrecondition, NotFound
from stepline.service import executions
from stepline.service.deps import Services
from stepline.statuses import ADVANCING, ExecutionStatus
from stepline.store.executions import NotActive
from stepline.store.queue import StepMessage
from stepline.store.records import ExecutionRecord

# A pause that loses to the runner's QUEUED → RUNNING reads the head again this often.
_ATTEMPTS = 3


def pause(
    svc: Services, execution_id: str, *, principal: Principal | None = None
) -> dict[str, Any]:
    """QUEUED/RUNNING → PAUSED; again on PAUSED is fine; ended is refused."""
    record = executions.guarded_head(svc, execution_id, principal, Role.EXECUTOR)
    quota = timedelta(hours=svc.settings.max_execution_hours)
    for _ in range(_ATTEMPTS):
        if record.status == ExecutionStatus.PAUSED:
            return {"executionId": execution_id}
        if record.status not in ADVANCING:
            raise _ended(record, "paused")
        try:
            svc.executions.pause(record, until=record.started_at + quota)
        except NotActive as lost:
            record = _found(lost, execution_id)
            continue
        return {"executionId": execution_id}
    raise Aborted(f"executionId: execution {execution_id} changed meanwhile; try again")


def resume(
    svc: Services, execution_id: str, *, principal: Principal | None = None
) -> dict[str, Any]:
    """PAUSED → RUNNING (QUEUED if it never ran) and on; again when not paused is fine;
    ended is refused."""
    record = executions.guarded_head(svc, execution_id, principal, Role.EXECUTOR)
    if record.status in ADVANCING:
        return {"executionId": execution_id}
    if record.status != ExecutionStatus.PAUSED:
        raise _ended(record, "resumed")
    try:
        held = svc.executions.resume(record, svc.clock())
    except NotActive as lost:
        record = _found(lost, execution_id)
        if record.status in ADVANCING:  # another resume came first (and sent what it had to)
            return {"executionId": execution_id}
        raise _ended(record, "resumed") from lost
    if held:  # no runner goes on by itself: this message does (from the newest log item)
        svc.queue.send(StepMessage(execution_id, 0, resume=True))
    return {"executionId": execution_id}


def _found(lost: NotActive, execution_id: str) -> ExecutionRecord:
    if lost.record is None:
        raise NotFound(f"executionId: execution {execution_id} not found") from lost
    return lost.record


def _ended(record: ExecutionRecord, verb: str) -> FailedPrecondition:
    status = record.status
    return FailedPrecondition(
        f"executionId: execution {record.id} is already {status} and can no longer be {verb}"
    )
