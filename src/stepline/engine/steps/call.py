"""Integration steps (FunctionCall, HTTPCall, ...): the runner performs each attempt.

The step becomes a :class:`CallRequest`; its result comes back in a later advance. A failed
attempt is retried by the step's retry policy (after its delay: a wake-up), then caught by a
catch rule, else the step fails.
"""

from __future__ import annotations

from datetime import timedelta

from stepline import bounds
from stepline.engine.model import CallTask, NewTask, Thread
from stepline.engine.tick import (
    DEFAULT_TIMEOUT,
    CallRequest,
    Tick,
    apply_output,
    goto,
    problem,
    too_deep,
)
from stepline.times import from_stored, stored
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import IntegrationStep
from stepline.yawl.policies import first_matching_rule
from stepline.yawl.spec import Step
from stepline.yawl.templating import TemplateError


def handle(tick: Tick, thread: Thread, step: Step) -> bool:
    body = step.body
    assert isinstance(body, IntegrationStep)
    task = thread.task
    if isinstance(task, NewTask):
        step_input = tick.filter(body.input, thread.state, thread, private=True)
        task = thread.task = CallTask(n=task.n, input=step_input)
        tick.record(task.n, step_input)
    assert isinstance(task, CallTask)
    result = tick.results.get(task.n)
    if result is None:
        return _request(tick, thread, body, task)
    task.requested = False
    if not result.failed:
        try:
            if bounds.exceeds_depth(result.output):  # before anything copies it
                raise too_deep("output")
            output = tick.filter(body.output, result.output, thread)
            apply_output(thread, output)
        except TemplateError as exc:
            code = WorkflowErrorCode.STEP_INVALID_TEMPLATE_EXPRESSION
            return _failed_attempt(tick, thread, step, task, StepFailure(code, str(exc)))
        except StepFailure as invalid:
            return _failed_attempt(tick, thread, step, task, invalid)
        tick.complete(task.n, output)
        return goto(thread, body.next)
    failure = StepFailure(result.code or WorkflowErrorCode.STEP_INTERNAL, result.message)
    return _failed_attempt(tick, thread, step, task, failure)


def _request(tick: Tick, thread: Thread, body: IntegrationStep, task: CallTask) -> bool:
    if task.wake is not None and from_stored(task.wake) > tick.now:
        tick.want_wake(from_stored(task.wake))
        return False
    task.wake = None
    task.requested = True
    assert thread.step is not None
    tick.calls.append(
        CallRequest(
            n=task.n,
            entry_id=f"{thread.path}{thread.step}",
            scope=tuple(thread.scope),
            step_id=thread.step,
            step_input=task.input,
            attempt=task.attempt,
            timeout=float(body.timeout or DEFAULT_TIMEOUT),
        )
    )
    return False


def _failed_attempt(
    tick: Tick, thread: Thread, step: Step, task: CallTask, failure: StepFailure
) -> bool:
    body = step.body
    assert isinstance(body, IntegrationStep)
    entry = tick.machine.entries[task.n]
    entry.last_error = problem(failure)
    policy = tick.spec.retry_policy_for(step)
    retry = task.attempt
    if failure.retryable and policy is not None and policy.should_retry(failure.code, retry):
        seed = f"{tick.machine.id}/{entry.id}#{task.n}"
        delay = policy.delay_for(retry, seed) * tick.scale
        task.attempt += 1
        task.wake = stored(tick.now + timedelta(seconds=delay))
        entry.attempts = task.attempt
        return _request(tick, thread, body, task)
    rule = first_matching_rule(body.catch, failure.code) if failure.retryable else None
    if rule is None:
        raise failure
    output = tick.render(rule.output, failure.error_info(), thread)
    apply_output(thread, output)
    tick.fail_entry(task.n, failure, output=output)
    return goto(thread, rule.next)
