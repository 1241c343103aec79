"""Fail: the step fails with STEP_FAIL and its rendered message (catch rules cannot take it)."""

from __future__ import annotations

import json

from stepline.engine.model import Thread
from stepline.engine.tick import Tick
from stepline.yawl.control import Fail
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.spec import Step


def handle(tick: Tick, thread: Thread, step: Step) -> bool:
    body = step.body
    assert isinstance(body, Fail)
    message = tick.render(body.error_message, thread.state, thread)
    raise StepFailure(
        WorkflowErrorCode.STEP_FAIL, message if isinstance(message, str) else json.dumps(message)
    )
