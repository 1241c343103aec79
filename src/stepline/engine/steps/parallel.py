"""Parallel: every branch runs on its own copy of the step's input; the result is keyed by
branch name."""

from __future__ import annotations

from stepline.engine.model import FanOutTask, NewTask, Thread
from stepline.engine.steps import children
from stepline.engine.steps.loop import finish_compound
from stepline.engine.tick import Tick
from stepline.yawl import state as st
from stepline.yawl.control import Parallel
from stepline.yawl.spec import Step


def handle(tick: Tick, thread: Thread, step: Step) -> bool:
    body = step.body
    assert isinstance(body, Parallel)
    task = thread.task
    if isinstance(task, NewTask):
        step_input = tick.filter(body.input, thread.state, thread)
        tick.record(task.n, step_input)
        states = st.branch_states(step_input, body.branches)
        items = [states[name] for name in body.branches]
        task = thread.task = FanOutTask(kind="parallel", n=task.n, size=len(items), items=items)
    assert isinstance(task, FanOutTask)
    if not children.run_children(tick, thread, body, task):
        return False
    results = children.results(tick, thread, body, task)
    raw = st.parallel_result(dict(zip(body.branches, results, strict=True)))
    return finish_compound(tick, thread, body.output, body.next, task.n, raw)
