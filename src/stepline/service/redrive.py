"""Redrive (a Stepline extension of ExecutionService): a FAILED or STOPPED execution goes on
from where it ended, with the same id and the spec version it started with.

The move is one conditional write of the head: FAILED/STOPPED → RUNNING with ``redriveCount``
one up, expected at the count read (two concurrent redrives: one wins, the other finds the
execution redriven and answers the same), filed on the watch list at once. Then one message:
the runner that takes it reopens the log (:mod:`stepline.service.runner.redriving`) and goes on.
If the message is lost, the reconciler finds the execution overdue and sends one. Nothing but
the head is written here, so a crash after the write leaves a redriven execution that the
reconciler moves on, and a crash before it leaves the execution as it was.

What runs again: the steps that failed or did not finish, from their first attempt (a Foreach
or Parallel keeps its finished children's results). A Fail step fails again: redrive is for
transient failures. The time quota counts from the redrive; there is no other time limit than
the history retention (a log that has expired cannot be redriven: it is gone with its head).
"""

from __future__ import annotations

from typing import Any

from stepline.access import Principal, Role
from stepline.errors import FailedPrecondition, NotFound
from stepline.service import executions
from stepline.service.deps import Services
from stepline.statuses import ExecutionStatus
from stepline.store.executions import NotActive
from stepline.store.queue import StepMessage
from stepline.store.records import ExecutionRecord

REDRIVABLE = (ExecutionStatus.FAILED, ExecutionStatus.STOPPED)


def redrive(
    svc: Services, execution_id: str, *, principal: Principal | None = None
) -> dict[str, Any]:
    """FAILED/STOPPED → RUNNING from where it ended; anything else is FAILED_PRECONDITION."""
    record = executions.guarded_head(svc, execution_id, principal, Role.EXECUTOR)
    if record.status not in REDRIVABLE:
        raise _refused(record)
    if record.status == ExecutionStatus.STOPPED and _still_closing(svc, record):
        raise FailedPrecondition(
            f"executionId: execution {execution_id} is STOPPED and its steps are still being "
            "closed; redrive it once they are"
        )
    try:
        svc.executions.redrive(record, svc.clock())
    except NotActive as lost:
        now = lost.record
        if now is None:
            raise NotFound(f"executionId: execution {execution_id} not found") from lost
        if now.redrive_count > record.redrive_count:  # a concurrent redrive came first
            return _answer(now.id, now.redrive_count)
        raise _refused(now) from lost
    svc.queue.send(StepMessage(execution_id, 0, resume=True))
    return _answer(execution_id, record.redrive_count + 1)


def _answer(execution_id: str, count: int) -> dict[str, Any]:
    return {"executionId": execution_id, "redriveCount": str(count)}


def _still_closing(svc: Services, record: ExecutionRecord) -> bool:
    """A stopped execution whose runner has not closed its steps yet (calls under way, or
    entries still open): redriven now, it would race that runner."""
    return svc.log.closing(record.id)


def _refused(record: ExecutionRecord) -> FailedPrecondition:
    status = record.status
    if status == ExecutionStatus.FINISHED:
        why = "it finished: only a FAILED or STOPPED execution can be redriven"
    else:
        why = "it has not ended: only a FAILED or STOPPED execution can be redriven"
        if record.redrive_count:
            why += f" (it has been redriven {record.redrive_count} times)"
    return FailedPrecondition(f"executionId: execution {record.id} is {status}; {why}")
