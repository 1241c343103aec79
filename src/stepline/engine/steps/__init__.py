"""One module per kind of step, registered in one table.

A handler takes the advance (:class:`stepline.engine.tick.Tick`), the thread and its current
step, works on the step's task, and returns True when the thread may go on to its next step
(False: it waits — for a call's result, a time, or children still running). To add a kind of
step: a spec model in :mod:`stepline.yawl`, a module here, a line in ``HANDLERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stepline.engine.model import Thread
from stepline.engine.steps import (
    call,
    fail,
    foreach,
    loop,
    noop,
    parallel,
    signal,
    success,
    switch,
    wait,
)
from stepline.engine.tick import Tick
from stepline.yawl.control import Fail, Foreach, NoOp, Parallel, Success, Switch, Wait, While
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import IntegrationStep, WaitForTask
from stepline.yawl.spec import Step

Handler = Callable[[Tick, Thread, Step], bool]

HANDLERS: dict[type[Any], Handler] = {
    Switch: switch.handle,
    NoOp: noop.handle,
    Success: success.handle,
    Fail: fail.handle,
    Wait: wait.handle,
    Parallel: parallel.handle,
    Foreach: foreach.handle,
    While: loop.handle,
    WaitForTask: signal.handle,  # a Stepline extension: before IntegrationStep in the lookup
    IntegrationStep: call.handle,  # every integration step: the runner performs the call
}


def handler_for(body: Any) -> Handler:
    """The handler of a step body's kind."""
    for kind in type(body).__mro__:
        if kind in HANDLERS:
            return HANDLERS[kind]
    raise StepFailure(WorkflowErrorCode.STEP_INTERNAL, f"unknown step type {type(body).__name__}")
