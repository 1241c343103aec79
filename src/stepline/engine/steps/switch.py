"""Switch: the first choice whose condition holds names the next step, else the default."""

from __future__ import annotations

from stepline.engine.model import Thread
from stepline.engine.tick import Tick, goto
from stepline.yawl.control import Switch
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.spec import Step
from stepline.yawl.templating import evaluate_condition


def handle(tick: Tick, thread: Thread, step: Step) -> bool:
    body = step.body
    assert isinstance(body, Switch) and thread.task is not None
    n = thread.task.n
    variables = tick.variables(thread, *(choice.condition for choice in body.choices))
    data = tick.filter(body.input, thread.state, thread)
    tick.record(n, data)
    for choice in body.choices:
        if evaluate_condition(choice.condition, data, variables=variables):
            tick.complete(n, None)
            return goto(thread, choice.next)
    if body.default is not None:
        tick.complete(n, None)
        return goto(thread, body.default.next)
    raise StepFailure(
        WorkflowErrorCode.STEP_NO_CHOICE_MATCHED, "no condition is true, and there is no default"
    )
