"""Foreach: the step's input array, one run of the block per element; the result is the array
of the runs' results."""

from __future__ import annotations

from stepline.engine.model import FanOutTask, NewTask, Thread
from stepline.engine.steps import children
from stepline.engine.steps.loop import finish_compound
from stepline.engine.tick import Tick
from stepline.yawl import state as st
from stepline.yawl.control import Foreach
from stepline.yawl.spec import Step


def handle(tick: Tick, thread: Thread, step: Step) -> bool:
    body = step.body
    assert isinstance(body, Foreach)
    task = thread.task
    if isinstance(task, NewTask):
        step_input = tick.filter(body.input, thread.state, thread)
        tick.record(task.n, step_input)
        items = st.foreach_items(step_input)
        task = thread.task = FanOutTask(kind="foreach", n=task.n, size=len(items), items=items)
    assert isinstance(task, FanOutTask)
    if not children.run_children(tick, thread, body, task):
        return False
    raw = st.foreach_result(children.results(tick, thread, body, task))
    return finish_compound(tick, thread, body.output, body.next, task.n, raw)
