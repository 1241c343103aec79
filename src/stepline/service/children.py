"""The Workflow step: a child execution the parent waits for without holding a Lambda open.

The runner starts the child through the same Start use case (idempotent per parent, step and
attempt), remembers it in the parent's machine (``engine.remember_child``), and parks. When the
child ends, its runner sends the parent a ``resume`` message; the parent reads the child's head
and takes its result (or error) as the step's outcome. Stop and Terminate of the parent reach
its running children.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from stepline import engine
from stepline.engine import Machine
from stepline.errors import SteplineError
from stepline.service import executions
from stepline.service.deps import Services
from stepline.statuses import ENDED, ExecutionStatus
from stepline.store.errors import StoreError
from stepline.store.queue import StepMessage
from stepline.store.records import ExecutionRecord
from stepline.yawl.errors import WorkflowErrorCode
from stepline.yawl.integration import WorkflowCall
from stepline.yawl.templating import TemplateError, render


def is_child_call(step_body: Any) -> bool:
    """Whether a call is a Workflow step (handled here, not by an adapter)."""
    return isinstance(step_body, WorkflowCall)


def poll(
    svc: Services,
    parent: ExecutionRecord,
    machine: Machine,
    call: engine.CallRequest,
    body: WorkflowCall,
    secrets: dict[str, dict[str, str]],
) -> engine.CallResult | None:
    """Start the child if needed; its outcome once it has ended, else None (still running)."""
    child_id = engine.child_of(machine, call.n)
    if child_id is None:
        started = _start(svc, parent, call, body, secrets)
        if isinstance(started, engine.CallResult):
            return started
        engine.remember_child(machine, call.n, started)
        return None
    child = svc.executions.get(child_id)
    if child is None or child.status not in ENDED:
        return None
    engine.forget_child(machine, call.n)  # a retry starts a fresh child
    return outcome(svc, child)


def _start(
    svc: Services,
    parent: ExecutionRecord,
    call: engine.CallRequest,
    body: WorkflowCall,
    secrets: dict[str, dict[str, str]],
) -> str | engine.CallResult:
    try:
        value = (
            call.step_input
            if body.execution_input is None
            else render(body.execution_input, call.step_input, secrets=secrets)
        )
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        input_json = executions.check_input_json(text, "executionInput")
        command = executions.StartCommand(
            workflow_id=body.workflow_id,
            input_json=input_json,
            caller=f"execution:{parent.id}",
            idempotency_key=f"child:{parent.id}:{call.n}:{call.attempt}",
            parent=parent.id,
        )
        return executions.start(svc, command)
    except TemplateError as exc:
        code = WorkflowErrorCode.STEP_INVALID_TEMPLATE_EXPRESSION
        return engine.CallResult(code=code.value, message=str(exc))
    except StoreError:
        raise  # the table's trouble, not the child's: the message is tried again
    except SteplineError as exc:
        code = WorkflowErrorCode.STEP_INVALID_ARGUMENT
        return engine.CallResult(code=code.value, message=f"child workflow: {exc.message}")


def outcome(svc: Services, child: ExecutionRecord) -> engine.CallResult:
    """The step outcome a child's end gives its parent."""
    if child.status == ExecutionStatus.FINISHED:
        text = child.result_json
        if text is None and child.result_ref:
            text = svc.payloads.get(child.result_ref)
        return engine.CallResult(output=json.loads(text) if text else None)
    if child.status == ExecutionStatus.FAILED and child.error:
        code = child.error.get("errorCode") or WorkflowErrorCode.STEP_INTERNAL.value
        return engine.CallResult(
            code=code, message=f"child execution {child.id}: {child.error.get('message', '')}"
        )
    return engine.CallResult(
        code=WorkflowErrorCode.STEP_FAILED_PRECONDITION.value,
        message=f"child execution {child.id} was stopped",
    )


def any_ended(svc: Services, waited: Iterable[str]) -> bool:
    """Whether one of the child executions ``waited`` for has already ended."""
    for child_id in waited:
        child = svc.executions.get(child_id)
        if child is not None and child.status in ENDED:
            return True
    return False


def notify_parent(svc: Services, child: ExecutionRecord) -> None:
    """Tell the parent that this child has ended."""
    if child.parent:
        svc.queue.send(StepMessage(child.parent, 0, resume=True))


def stop_children(svc: Services, waited: Iterable[str], terminate: bool) -> None:
    """Stop (or terminate) every child execution the parent still waits for (``waited``)."""
    for child_id in waited:
        try:
            executions.stop(svc, child_id, terminate=terminate)
        except StoreError:
            raise
        except SteplineError:
            continue  # already ended or gone
