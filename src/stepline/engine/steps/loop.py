"""While: the block runs again while the condition holds (and ``max_iterations`` allows),
each iteration starting from the state the previous one ended with."""

from __future__ import annotations

from typing import Any

from stepline.engine import threads
from stepline.engine.model import NewTask, Thread, WhileTask
from stepline.engine.steps.children import child_scope
from stepline.engine.tick import Tick, apply_output, check_size, goto, result_of
from stepline.yawl import state as st
from stepline.yawl.control import While
from stepline.yawl.spec import Step


def handle(tick: Tick, thread: Thread, step: Step) -> bool:
    body = step.body
    assert isinstance(body, While)
    task = thread.task
    if isinstance(task, NewTask):
        tick.record(task.n, thread.state)
        task = thread.task = WhileTask(n=task.n, loop=thread.state)
    assert isinstance(task, WhileTask)
    # A While's own templates see `$global` at any depth, the top-level thread's included.
    glob = tick.global_state(body.condition, body.input, body.max_iterations)
    while True:
        if task.child is not None:
            child = tick.machine.threads[task.child]
            threads.run(tick, child)
            if not child.done:
                return False
            task.loop = child.state
            task.last, task.has_last = result_of(child), True
            task.counter += 1
            tick.drop_thread(task.child)
            task.child = None
        if not st.while_should_run(body, task.loop, task.counter, global_state=glob):
            raw = task.last if task.has_last else task.loop
            return finish_compound(tick, thread, body.output, body.next, task.n, raw)
        start_state = st.while_input(body, task.loop, task.counter, global_state=glob)
        check_size(start_state, "input")
        path = f"{thread.path}{thread.step}[{task.counter}]/"
        tick.new_thread(path, child_scope(thread, "do"), body.do_.start, start_state)
        task.child = path


def finish_compound(
    tick: Tick, thread: Thread, template: str | None, next_step: str | None, n: int, raw: Any
) -> bool:
    """A compound step's end: its output template over the raw result, merged; the entry
    COMPLETED; the thread goes on."""
    output = raw if template is None else tick.render(template, raw, thread)
    apply_output(thread, output)
    tick.complete(n, output)
    return goto(thread, next_step)
