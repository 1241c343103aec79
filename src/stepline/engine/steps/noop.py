"""NoOp: merges its output (if it has one) and goes on."""

from __future__ import annotations

from stepline.engine.model import Thread
from stepline.engine.tick import Tick, apply_output, goto
from stepline.yawl.control import NoOp
from stepline.yawl.spec import Step


def handle(tick: Tick, thread: Thread, step: Step) -> bool:
    body = step.body
    assert isinstance(body, NoOp) and thread.task is not None
    output = None
    if body.output is not None:
        output = tick.render(body.output, thread.state, thread)
        apply_output(thread, output)
    tick.complete(thread.task.n, output)
    return goto(thread, body.next)
