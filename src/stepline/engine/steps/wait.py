"""Wait: for a duration or until a time; the advance asks to be woken up then."""

from __future__ import annotations

from datetime import datetime, timedelta

from stepline.engine.model import NewTask, Thread, WaitTask
from stepline.engine.tick import Tick, goto
from stepline.times import TimestampError, from_stored, parse_timestamp, stored
from stepline.yawl.control import MAX_WAIT_SECONDS, Wait, parse_wait_seconds
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.spec import Step


def handle(tick: Tick, thread: Thread, step: Step) -> bool:
    body = step.body
    assert isinstance(body, Wait)
    task = thread.task
    if isinstance(task, NewTask):
        if body.duration is not None:
            raw = tick.render(body.duration, thread.state, thread)
            try:
                seconds = parse_wait_seconds(str(raw))
            except ValueError as exc:
                raise StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, str(exc)) from exc
            wake = tick.now + timedelta(seconds=max(0.0, seconds) * tick.scale)
        else:
            raw = tick.render(body.until or "", thread.state, thread)
            wake = _until(str(raw), tick)
        task = thread.task = WaitTask(n=task.n, wake=stored(wake))
    assert isinstance(task, WaitTask)
    due = from_stored(task.wake)
    if due > tick.now:
        tick.want_wake(due)
        return False
    tick.complete(task.n, None)
    return goto(thread, body.next)


def _until(text: str, tick: Tick) -> datetime:
    try:
        target = parse_timestamp(text, "until")
    except TimestampError as exc:
        raise StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, exc.message) from exc
    delay = max(0.0, (target - tick.now).total_seconds())
    if delay > MAX_WAIT_SECONDS:
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT,
            f"wait until {text[:40]!r} is more than 48h away, longer than an execution may run",
        )
    return tick.now + timedelta(seconds=delay * tick.scale)
