"""Driving an execution: advance the engine, make its calls, checkpoint, and hand over
(a wake-up, a new invocation, or a child's end) until the execution ends."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

from stepline import engine
from stepline.engine import Records
from stepline.integrations.secrets import SecretCache, SecretMask, references
from stepline.service import children, tasks
from stepline.service.deps import Services
from stepline.service.runner import calls as calling
from stepline.service.runner import delegation, execution_logs
from stepline.service.runner.checkpoint import Chain, checkpoint, ended_machine, stored_records
from stepline.service.runner.masking import LOGS, restore_secrets
from stepline.service.runner.run import Invocation, Run
from stepline.service.runner.spec_cache import SPECS
from stepline.service.runner.stopping import active_after_calls, hold, pause_asked, still_active
from stepline.statuses import ADVANCING, ExecutionStatus
from stepline.store import keys
from stepline.store.executions import NotActive
from stepline.store.log import LogItem
from stepline.store.payloads import INLINE_LIMIT
from stepline.store.queue import MAX_DELAY_SECONDS, StepMessage
from stepline.store.records import ExecutionRecord
from stepline.yawl import Workflow
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import WaitForTask, WorkflowCall


def begin(
    svc: Services,
    message: StepMessage,
    head: ExecutionRecord,
    last: LogItem | None,
    invocation: Invocation,
    head_read: float,
) -> None:
    spec = SPECS.get(svc, head)
    seq = 0 if last is None else last.seq + 1
    still_open = [] if last is None else last.open
    run = Run(svc, message, head, spec, engine.new_machine(None, head.id), seq, invocation)
    run.head_read, run.chain = head_read, Chain.of(last)
    run.written_open = {int(e["n"]): e for e in still_open}
    run.lines = execution_logs.Lines(execution_logs.destination(svc, head))
    run.loaded = False
    try:
        _begin(run, last, still_open)
    finally:
        # One write of the execution's log lines per invocation, after its log items.
        execution_logs.flush(svc, run.head, run.lines)


def _begin(run: Run, last: LogItem | None, still_open: list[dict[str, Any]]) -> None:
    svc, head = run.svc, run.head
    limit = timedelta(hours=svc.settings.max_execution_hours)
    try:
        if svc.clock() - head.quota_from > limit:
            # Whatever it was doing, an execution ends at its time quota: what is open closes.
            raise StepFailure(
                WorkflowErrorCode.STEP_QUOTA_EXCEEDED,
                f"the execution ran longer than {svc.settings.max_execution_hours:g} h",
            )
        run.secrets, run.mask = _secrets(svc, head, run.spec)
        LOGS.use(head.id, run.mask)
        records = stored_records(head.id, last)
        if records is None:
            run.machine = engine.new_machine(_input(svc, head), head.id)
        else:
            run.machine = engine.load(restore_secrets(records, run.mask), still_open)
        run.loaded = True
    except StepFailure as failure:
        # Past the time quota, or a secret is unreadable (or gone since the snapshot hid it,
        # or the workflow's role cannot be assumed to read it): the execution fails, and the
        # steps still open close with it.
        run.finished = engine.cancel_entries(still_open, svc.clock())
        run.machine = engine.fail(run.machine, failure, svc.clock())
        _end(run)
        return
    drive(run)


def _input(svc: Services, head: ExecutionRecord) -> Any:
    return json.loads(_input_of(svc, head))


def execution_input(svc: Services, head: ExecutionRecord) -> Any:
    """The execution's input (from the head, or the payload bucket)."""
    return _input(svc, head)


def _input_of(svc: Services, head: ExecutionRecord) -> str:
    if head.input_json is not None:
        return head.input_json
    return svc.payloads.get(head.input_ref) if head.input_ref else "{}"


def _secrets(
    svc: Services, head: ExecutionRecord, spec: Workflow
) -> tuple[dict[str, dict[str, str]], SecretMask]:
    """Every secret the spec's templates name (lockboxPayload), read once per invocation (as
    the workflow's role, when it has one), and the mask that keeps their values out of what
    the runner writes."""
    refs = references(spec)
    if not refs:
        return {}, SecretMask()
    client = delegation.identity(svc, head).client("secretsmanager")
    secrets = SecretCache(client).resolve(refs, timeout=10.0)
    return secrets, SecretMask.of(refs, secrets)


def drive(run: Run) -> None:
    """Advance, perform calls, checkpoint; until the end, a wait, or the time budget."""
    while True:
        adv = engine.advance(
            run.spec,
            run.machine,
            run.svc.clock(),
            run.results,
            scale=run.svc.settings.time_scale,
            secrets=run.secrets,
            # An inline stretch is bounded too, and a Pause starts nothing new.
            pause=lambda: run.invocation.time_left() <= 0 or pause_asked(run),
            max_steps=run.svc.settings.max_steps,
        )
        run.machine, run.results = adv.machine, {}
        run.finished.extend(adv.finished)
        if adv.ended:
            _end(run)
            return
        calls, waiting = _poll_children(run, adv.calls)
        if run.results:
            continue  # a child has ended: take its outcome in at once
        if calls and run.may_call():
            if not still_active(run):
                return
            run.called = True
            if run.invocation.on_call_batch is not None:
                run.invocation.on_call_batch(len(calls))
            results = calling.perform(run, calls)
            if results is None:
                return
            run.results = results
            if not active_after_calls(run):
                return
            continue
        _hand_over(run, adv.wake_at, more_calls=bool(calls) or adv.paused, waiting=waiting)
        return


def _hand_over(run: Run, wake: datetime | None, *, more_calls: bool, waiting: bool) -> None:
    """Checkpoint and say what comes next: a wake-up, a new invocation, or a child's end
    (paused: nothing, until the resume)."""
    if run.pausing:
        hold(run, wake)
        return
    if not checkpoint(run, wake=wake):
        return
    if wake is not None:
        park(run.svc, StepMessage(run.head.id, run.seq), wake)
        if (
            _waits_for_tasks(run.spec)
            and tasks.answer_waiting(run.svc, run.head.id, run.machine.entries) is not None
        ):
            # A task was answered between our poll and our write: its resume may have been
            # dropped (a runner was busy), so go on now rather than at the wake-up.
            run.svc.queue.send(StepMessage(run.head.id, 0, resume=True))
    elif more_calls or not waiting:
        run.svc.queue.send(StepMessage(run.head.id, run.seq))  # out of time: go on in a new one
    elif children.any_ended(run.svc, engine.child_executions(run.machine)):
        # A child ended between our look and our write: its resume may have been dropped.
        run.svc.queue.send(StepMessage(run.head.id, 0, resume=True))


def _waits_for_tasks(spec: Workflow) -> bool:
    """Whether the workflow has a waitForTask step anywhere (only then can an answer race)."""
    return any(step.kind == "waitForTask" for _, step in spec.walk())


def _poll_children(
    run: Run, calls: list[engine.CallRequest]
) -> tuple[list[engine.CallRequest], bool]:
    """Workflow steps start or poll their child, waitForTask steps their task; the other
    calls are returned to perform."""
    others, waiting = [], False
    for call in calls:
        body = engine.step_at(run.spec, call.scope, call.step_id).body
        if not children.is_child_call(body) and not isinstance(body, WaitForTask):
            others.append(call)
            continue
        answered = run.invocation.answer(call) if run.invocation.answer is not None else None
        if answered is not None:  # a mocked child workflow or task: it is never started
            run.results[call.n] = answered
            continue
        if isinstance(body, WaitForTask):  # answered, timed out, or: look again at wait_until
            run.results[call.n] = tasks.poll(run.svc, run.head, call, body, run.secrets)
            continue
        assert isinstance(body, WorkflowCall)
        result = children.poll(run.svc, run.head, run.machine, call, body, run.secrets)
        if result is None:
            waiting = True
        else:
            run.results[call.n] = result
    return others, waiting


def park(svc: Services, message: StepMessage, wake: datetime) -> None:
    delay = max(0.0, (wake - svc.clock()).total_seconds())
    # SQS delays are whole seconds: round up, so an early message never loops through the queue.
    seconds = math.ceil(delay)
    svc.queue.send(message, delay_seconds=min(MAX_DELAY_SECONDS, seconds))


def _end(run: Run) -> None:
    """Write the final log item, then the head: FINISHED with its result, or FAILED."""
    if not checkpoint(run, ended=True):
        return
    finalize_head(run.svc, run.head, ended_machine(run))


def finalize_head(svc: Services, head: ExecutionRecord, ended: Records | None) -> None:
    """Copy the outcome of an ended log (``ended``: its machine part) onto the head (again,
    after a crash in between)."""
    outcome = (ended or {}).get("outcome")
    if outcome is None or head.status not in ADVANCING:
        return
    now = svc.clock()
    try:
        if outcome["status"] == ExecutionStatus.FINISHED:
            fields = _result_fields(svc, head.id, outcome["result"])
            svc.executions.end(
                head,
                ExecutionStatus.FINISHED,
                now,
                result=fields,
                redrive_count=head.redrive_count,
            )
        else:
            svc.executions.end(
                head,
                ExecutionStatus.FAILED,
                now,
                error=outcome["error"],
                redrive_count=head.redrive_count,
            )
    except NotActive:
        return  # stopped meanwhile: STOPPED stays (or redriven since: that run goes on)
    children.notify_parent(svc, head)


def _result_fields(svc: Services, execution_id: str, result: Any) -> dict[str, str]:
    text = json.dumps(result, ensure_ascii=False)
    if len(text.encode()) <= INLINE_LIMIT:
        return {"result": text}
    return {"resultRef": svc.payloads.put(keys.payload_result(execution_id), text)}
