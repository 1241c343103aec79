"""waitForTask (a Stepline extension): wait for a caller's answer to a task token.

The step is an integration step whose attempt the runner does not perform but polls: the
runner issues the token and sends the notification (``stepline.service.tasks``), then answers
each poll with the caller's answer (an output or a failure, as a call's result), a timeout
(STEP_TIMEOUT), or ``wait_until``: no answer yet, look again by then. The engine then asks to be
woken at that time and does not poll again in this advance; a new advance polls again (an
answer's resume message is such an advance). Retries and catch rules work as for any call.
"""

from __future__ import annotations

from stepline.engine.model import CallTask, NewTask, Thread
from stepline.engine.steps import call
from stepline.engine.tick import Tick
from stepline.yawl.integration import WaitForTask
from stepline.yawl.spec import Step


def handle(tick: Tick, thread: Thread, step: Step) -> bool:
    assert isinstance(step.body, WaitForTask)
    task = thread.task
    result = tick.results.get(task.n) if isinstance(task, CallTask | NewTask) else None
    if isinstance(task, CallTask) and result is not None and result.wait_until is not None:
        tick.want_wake(result.wait_until)
        return False
    return call.handle(tick, thread, step)
