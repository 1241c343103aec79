"""Running a thread: start its current step, hand it to its kind's handler, move on.

Each kind of step has its module in :mod:`stepline.engine.steps`, registered in one table
(``steps.HANDLERS``); a handler works on the thread's current step and says whether the thread
may go on to its next one.
"""

from __future__ import annotations

from stepline.engine import steps
from stepline.engine.model import NewTask, Thread
from stepline.engine.tick import Tick, block_of, new_entry
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.spec import Step
from stepline.yawl.templating import TemplateError

_TYPE_NAMES = {"WorkflowCall": "Workflow"}


def run(tick: Tick, thread: Thread) -> None:
    """Advance one thread until it waits, finishes or fails (StepFailure propagates)."""
    tick.machine.touch(thread.path)
    block = block_of(tick.spec, thread.scope)
    while not thread.done:
        assert thread.step is not None
        step = block.steps[thread.step]
        if thread.task is None:
            if not tick.may_start():
                return
            _start(tick, thread, step)
        if thread.task is not None and not _resume(tick, thread, step):
            return


def _start(tick: Tick, thread: Thread, step: Step) -> None:
    machine = tick.machine
    machine.steps += 1
    if machine.steps > tick.max_steps:
        raise StepFailure(
            WorkflowErrorCode.STEP_QUOTA_EXCEEDED,
            f"the execution ran more than {tick.max_steps} steps (every branch and iteration "
            "counts)",
        )
    machine.n += 1
    n = machine.n
    entry_id = f"{thread.path}{thread.step}"
    machine.entries[n] = new_entry(n, entry_id, step_type(step), tick.now, step)
    thread.task = NewTask(n=n)


def step_type(step: Step) -> str:
    """The type a step's history entries show."""
    name = type(step.body).__name__
    return _TYPE_NAMES.get(name, name)


def _resume(tick: Tick, thread: Thread, step: Step) -> bool:
    """Work on the thread's current step; True when the thread may go on to its next step."""
    task = thread.task
    assert task is not None
    try:
        return steps.handler_for(step.body)(tick, thread, step)
    except TemplateError as exc:
        failure = StepFailure(WorkflowErrorCode.STEP_INVALID_TEMPLATE_EXPRESSION, str(exc))
        tick.fail_entry(task.n, failure)
        raise failure from exc
    except StepFailure as failure:
        if task.n in tick.machine.entries:
            tick.fail_entry(task.n, failure)
        raise
