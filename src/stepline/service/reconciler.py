"""The reconciler: a second line of defence, independent of any queue message.

Every execution that has not settled is on a sparse index (gsi5) under the time its next move
is expected: its start, at first. Once a minute the reconciler reads what is overdue by more
than a grace period and looks at the newest log item to see what should have come next:

=====================================  ==============================================
the log says                           the next move is expected
=====================================  ==============================================
nothing yet                            at the start (the first hop through the queue)
ended, but the head does not say so    at once (the head is finalised)
ended before the head's last redrive   at the redrive (the log is reopened, goes on)
calls are being made                   within the runner's Lambda timeout of the item
waiting until ``wake``                 at ``wake`` (at once: a task answered)
waiting for a child                    when a child has ended
stopped, nothing being called         at the stop (what is open is closed)
paused, nothing being called          at the end of its time quota (it fails then)
anything else (handed over)            within the runner's inline budget of the item
=====================================  ==============================================

If that moment is more than the grace period ago, the execution is stuck — a message was lost,
or its producer died without a redelivery — and the reconciler sends the message the runner
would have sent: ``(executionId, last seq + 1)``. The runner's own rules make that safe: it
is conditional like any message, a duplicate loses its race. Otherwise the execution is
filed under the moment it is expected. Settled executions leave the index (FINISHED and
FAILED at once, STOPPED once its log is closed). A PAUSED execution is not re-driven before its
quota ends; Resume files it under the moment of the resume, so a resume whose message was
lost is re-driven like any other stuck execution. Redrive files a FAILED or STOPPED execution
again under the moment of the redrive, so a lost redrive message is re-driven the same way.

The longest an execution stays stuck is therefore its expected moment + the grace + the
reconciler's period (docs/faults.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from stepline import engine
from stepline.service import children, tasks
from stepline.service.deps import Services
from stepline.service.runner import INLINE_BUDGET
from stepline.statuses import ExecutionStatus
from stepline.store import keys
from stepline.store.log import LogItem
from stepline.store.queue import StepMessage
from stepline.store.records import ENDED_STATUSES, ExecutionRecord
from stepline.times import from_stored

GRACE_SECONDS = 120.0
RUNNER_TIMEOUT_SECONDS = 900.0
BATCH = 100


@dataclass
class Report:
    """What one pass did."""

    examined: int = 0
    redriven: int = 0
    settled: int = 0
    complete: bool = True
    """Every overdue execution was looked at (else the time budget ran out first)."""

    def as_dict(self) -> dict[str, int | bool]:
        """The report as the function's answer."""
        return {
            "examined": self.examined,
            "redriven": self.redriven,
            "settled": self.settled,
            "complete": self.complete,
        }


@dataclass(frozen=True)
class Limits:
    """How long a move may be late, and how long the runner may take with calls."""

    grace: timedelta = timedelta(seconds=GRACE_SECONDS)
    runner_timeout: timedelta = timedelta(seconds=RUNNER_TIMEOUT_SECONDS)
    hand_over: timedelta = timedelta(seconds=INLINE_BUDGET)
    """How soon a log item is followed when nothing is waited for (the runner's inline budget)."""

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Limits:
        """Read ``RECONCILE_GRACE_SECONDS`` and ``RUNNER_TIMEOUT_SECONDS`` (template.yaml)."""
        return cls(
            grace=timedelta(seconds=float(env.get("RECONCILE_GRACE_SECONDS") or GRACE_SECONDS)),
            runner_timeout=timedelta(
                seconds=float(env.get("RUNNER_TIMEOUT_SECONDS") or RUNNER_TIMEOUT_SECONDS)
            ),
        )


def reconcile(
    svc: Services, limits: Limits, *, time_left: Callable[[], float] = lambda: 60.0
) -> Report:
    """One pass over every shard of the index; stops early when ``time_left()`` runs out."""
    report = Report()
    before = svc.clock() - limits.grace
    for shard in range(keys.DUE_SHARDS):
        for execution_id in svc.executions.overdue(shard, before, limit=BATCH):
            if time_left() <= 0:
                report.complete = False
                return report
            report.examined += 1
            verdict = examine(svc, limits, execution_id)
            report.redriven += verdict == "redriven"
            report.settled += verdict == "settled"
    return report


def examine(svc: Services, limits: Limits, execution_id: str) -> str:
    """Look at one execution: ``redriven`` (it was stuck: its next message is sent again),
    ``settled`` (taken off the watch list), ``watched`` (filed under its next move) or
    ``gone``."""
    head = svc.executions.get(execution_id)
    if head is None:
        return "gone"
    last = svc.log.last(head.id)
    if head.status in ENDED_STATUSES and (head.status != ExecutionStatus.STOPPED or _closed(last)):
        svc.executions.unwatch(head.id)
        return "settled"
    now = svc.clock()
    expected = _expected(svc, limits, head, last, now)
    if expected is not None and expected + limits.grace > now:
        svc.executions.watch(head.id, expected)
        return "watched"
    # Stuck: send what the runner would have sent, and look again a grace period from now.
    # (A resume when the log waits for a wake-up: it goes on before the wake, as an answer's.)
    resume = last is not None and last.wake is not None and not last.calls and not last.ended
    svc.queue.send(StepMessage(head.id, 0 if last is None else last.seq + 1, resume=resume))
    svc.executions.watch(head.id, now)
    _redriven_metric()
    return "redriven"


def _closed(last: LogItem | None) -> bool:
    """A stopped execution's log has nothing open any more."""
    return last is None or last.ended or not last.open


def _expected(
    svc: Services, limits: Limits, head: ExecutionRecord, last: LogItem | None, now: datetime
) -> datetime | None:
    """When the execution's next move is due; None: now (a waited-for child has ended)."""
    if last is None:
        if head.status == ExecutionStatus.PAUSED:
            return head.quota_from + timedelta(hours=svc.settings.max_execution_hours)
        return head.started_at
    written = from_stored(last.at)
    if last.ended:  # redriven since: at the redrive (its message reopens the log)
        return max(written, head.redriven_at) if head.redriven_at else written
    if last.calls:
        return written + limits.runner_timeout
    if head.status == ExecutionStatus.PAUSED:  # nothing moves before the resume, or the quota
        return head.quota_from + timedelta(hours=svc.settings.max_execution_hours)
    if head.status == ExecutionStatus.STOPPED:  # what is open closes at once, a wait included
        return head.finished_at or written
    if last.wake is not None:
        answered = tasks.answer_waiting(svc, head.id, (int(e["n"]) for e in last.open))
        # A waitForTask step was answered: its resume message went out with the answer.
        return answered if answered is not None else from_stored(last.wake)
    waited = engine.stored_children(last.delta if last.delta is not None else last.machine)
    if waited:
        return None if children.any_ended(svc, waited) else now
    return written + limits.hand_over


def _redriven_metric() -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name="ExecutionsRedriven", unit=MetricUnit.Count, value=1):
        pass
