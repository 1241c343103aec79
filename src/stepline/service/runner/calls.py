"""Integration calls: a batch made concurrently, each attempt in its own X-Ray subsegment,
the head looked at on a timer while they run."""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from stepline import engine
from stepline.integrations import CallContext, adapter_for
from stepline.service.runner.checkpoint import checkpoint
from stepline.service.runner.delegation import identity
from stepline.service.runner.run import SAFETY_MARGIN, Run
from stepline.service.runner.stopping import cancel, terminated
from stepline.telemetry import logger, tracer
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import IntegrationStep
from stepline.yawl.templating import render

WATCH_INTERVAL = 2.0


SLOW_CALL = 1.0


def perform(run: Run, calls: list[engine.CallRequest]) -> dict[int, engine.CallResult] | None:
    """Make the calls concurrently; None when Terminate interrupted them."""
    pool = ThreadPoolExecutor(max_workers=min(32, len(calls)))
    trace = _trace_context()
    futures = {pool.submit(traced_attempt, run, call, trace): call for call in calls}
    deadline = {
        f: time.monotonic() + min(c.timeout, run.invocation.remaining() - SAFETY_MARGIN)
        for f, c in futures.items()
    }
    results: dict[int, engine.CallResult] = {}
    pending: set[Future[engine.CallResult]] = set(futures)
    # The head is looked at on a timer while calls run, not as each one returns: first once
    # they have run SLOW_CALL, then every WATCH_INTERVAL.
    look, announced = time.monotonic() + SLOW_CALL, False
    while pending:
        until = min(look, *(deadline[f] for f in pending))
        done, pending = wait(
            pending, timeout=max(0.0, until - time.monotonic()), return_when=FIRST_COMPLETED
        )
        for future in done:
            results[futures[future].n] = future.result()
        now = time.monotonic()
        for future in [f for f in pending if deadline[f] <= now]:
            call = futures[future]
            results[call.n] = engine.CallResult(
                code=WorkflowErrorCode.STEP_TIMEOUT.value,
                message=f"step attempt exceeded its timeout of {call.timeout:g}s",
            )
            pending.discard(future)
        if not pending or now < look:
            continue
        look = now + WATCH_INTERVAL
        if not announced:
            # Calls that take a while are written down as STARTED (what GetHistory and the
            # CLI show); quick ones cost no write of their own: their results go into the next.
            announced = True
            if not checkpoint(run, calls=True):
                pool.shutdown(wait=False, cancel_futures=True)
                return None  # another runner holds this execution: it owns these calls too
        if terminated(run):
            cancel(run, {futures[f].n for f in pending})
            pool.shutdown(wait=False, cancel_futures=True)
            return None
    pool.shutdown(wait=False)
    return results


def _trace_context() -> tuple[Any, Any] | None:
    """The X-Ray recorder and the current segment, to carry into the call threads."""
    active = tracer()
    if active.disabled:
        return None
    recorder: Any = active.provider
    return recorder, recorder.get_trace_entity()


def traced_attempt(
    run: Run, call: engine.CallRequest, trace: tuple[Any, Any] | None
) -> engine.CallResult:
    """One attempt in its own X-Ray subsegment (threads do not inherit the trace context)."""
    if trace is None:
        return _attempt(run, call)
    recorder, parent = trace
    recorder.set_trace_entity(parent)
    with recorder.in_subsegment(f"## {call.entry_id}"[:200]) as segment:
        segment.put_annotation("execution_id", run.head.id)
        segment.put_annotation("step_id", call.entry_id)
        return _attempt(run, call)


def _attempt(run: Run, call: engine.CallRequest) -> engine.CallResult:
    logger.thread_safe_append_keys(execution_id=run.head.id, step_id=call.entry_id)
    if run.invocation.answer is not None:
        answered = run.invocation.answer(call)
        if answered is not None:
            return answered
    step = engine.step_at(run.spec, call.scope, call.step_id)
    body = step.body
    assert isinstance(body, IntegrationStep)
    try:
        # The workflow's own role (serviceAccountId), when it has one: a role that cannot be
        # assumed fails this attempt, as a denied call would.
        who = identity(run.svc, run.head)
        context = CallContext(
            client=who.client,
            render=lambda template: render(template, call.step_input, secrets=run.secrets),
            timeout=call.timeout,
            execution_id=run.head.id,
            step_id=call.entry_id,
            allow_private_hosts=run.svc.settings.allowed_private_hosts,
            reserved=run.svc.reserved,
            credentials=who.credentials,
        )
        output = adapter_for(body)(body, call.step_input, context)
    except StepFailure as failure:
        return engine.CallResult(code=failure.code.value, message=_as_whom(run, failure))
    except Exception as exc:  # an adapter bug must not take the runner down with it
        logger.exception("integration step crashed", extra={"attempt": call.attempt})
        return engine.CallResult(
            code=WorkflowErrorCode.STEP_INTERNAL.value, message=f"{type(exc).__name__}: {exc}"
        )
    return engine.CallResult(output=output)


def _as_whom(run: Run, failure: StepFailure) -> str:
    """The failure's message; a denied call made as the workflow's role says which role."""
    account = run.head.service_account_id
    denied = failure.code is WorkflowErrorCode.STEP_PERMISSION_DENIED
    if not account or not denied or "serviceAccountId" in failure.message:
        return failure.message
    return f"{failure.message} (called as serviceAccountId {account})"
