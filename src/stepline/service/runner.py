"""The runner: advances one execution per steps-queue message, effectively once.

A message ``(executionId, seq)`` asks to extend the execution's log at position ``seq``. The
runner reads the head and the newest log item, runs the engine inline as far as it can
(control steps in memory, integration calls performed here, concurrently where branches
allow), and appends one log item per batch of calls, before the calls start. Appends are
conditional, so a duplicate or late message can never write a second transition: it loses the
race and stops. A message behind the log is dropped, unless the item it produced is the last
one — then its producer may have crashed between the write and the send, and the runner
repairs what the log says comes next.

Secrets a workflow reads (``lockboxPayload``) never leave the runner as they are: what it
writes and logs goes through the execution's :class:`SecretMask` — history entries, the outcome
and error messages redacted to ``***``, the machine's records with the values hidden behind
markers that the next runner restores from the secrets it reads again (:func:`_hidden`,
:func:`_resumed`).

A checkpoint stores the machine as what changed since the last one (``engine.changes``), and
in full (``engine.snapshot``) when the deltas since the last full one would outgrow it: a
checkpoint costs what its advances did, and rebuilding the machine reads at most about twice
its size (:func:`_machine_part`, :func:`_stored_records`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from stepline import engine
from stepline.api.proto import from_stored, stored
from stepline.engine import ENTRY_DATA, Machine, Records
from stepline.integrations import CallContext, adapter_for
from stepline.integrations.secrets import LogRedaction, SecretCache, SecretMask, references
from stepline.service import children
from stepline.service.deps import Services
from stepline.store.errors import ItemTooLarge, Transient
from stepline.store.executions import NotActive
from stepline.store.log import LogItem, LostRace
from stepline.store.payloads import INLINE_LIMIT
from stepline.store.queue import MAX_DELAY_SECONDS, StepMessage
from stepline.store.records import ExecutionRecord, history_expiry
from stepline.yawl import Workflow, load
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import IntegrationStep, WorkflowCall
from stepline.yawl.templating import render

WATCH_INTERVAL = 2.0
SLOW_CALL = 1.0
SAFETY_MARGIN = 10.0
# A batch of calls starts on a head read at most this long ago (the read that began the
# invocation, or the one after the previous batch) rather than on a read of its own.
HEAD_FRESH = 0.1
# The head (and with it List's status indexes) says RUNNING once an execution has run this
# long, or at its first checkpoint if it will still be running by then. Shorter runs go from
# QUEUED to their end in one head write; Get and GetHistory show them RUNNING from their first
# log item on.
RUNNING_AFTER = 5.0
# Seconds an invocation runs steps inline (between writes) before it checkpoints and hands
# over; the reconciler counts on a log item being followed within this (and the queue's hop).
INLINE_BUDGET = 60.0


@dataclass
class Invocation:
    """Limits of the current invocation: a clock and the time left before it must stop."""

    remaining: Callable[[], float] = lambda: 840.0
    inline_budget: float = INLINE_BUDGET
    started: float = field(default_factory=time.monotonic)

    def time_left(self) -> float:
        """Seconds this invocation may still spend before checkpointing and handing over."""
        return min(self.remaining() - SAFETY_MARGIN, self.inline_budget - self.elapsed())

    def elapsed(self) -> float:
        """Seconds since the invocation started."""
        return time.monotonic() - self.started


@dataclass
class _Run:
    svc: Services
    message: StepMessage
    head: ExecutionRecord
    spec: Workflow
    machine: Machine
    seq: int
    invocation: Invocation
    finished: list[dict[str, Any]] = field(default_factory=list)
    results: dict[int, engine.CallResult] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    mask: SecretMask = field(default_factory=SecretMask)
    head_read: float = 0.0  # monotonic time of the newest read that found the head active
    called: bool = False  # a batch of calls was made in this invocation
    chain: _Chain | None = None  # the full machine the next delta builds on; None: write one
    written_open: dict[int, dict[str, Any]] = field(default_factory=dict)  # as last stored

    def may_call(self) -> bool:
        """A batch of calls may start: time is left, or it is the invocation's first batch and
        the Lambda deadline is not near (every invocation makes progress, as the engine's
        first step does)."""
        if self.invocation.time_left() > 0:
            return True
        return not self.called and self.invocation.remaining() > SAFETY_MARGIN


@dataclass
class _Chain:
    """The log's newest full machine (at ``base``, ``full`` bytes of JSON) and the bytes of
    the deltas written since."""

    base: int
    full: int
    deltas: int = 0

    @classmethod
    def of(cls, item: LogItem | None) -> _Chain | None:
        """The chain a log item continues; None when the next write must be in full."""
        if item is None or item.ended:
            return None
        if item.delta is not None and item.base is not None:
            return cls(item.base, item.full, item.chain)
        return cls(item.seq, item.full) if item.machine is not None else None


# Deltas since a full machine are at most this many items (a rebuild is one Query of them),
# and only of a machine of at least DELTA_FROM bytes: a smaller one is cheaper to write whole
# than to read back from two items.
MAX_CHAIN = 64
DELTA_FROM = 2048


class ExecutionGone(Exception):
    """The message names an execution that does not exist."""


# Redacts the secrets of the executions this process is advancing from the runner's log lines.
_LOGS = LogRedaction()
# A snapshot whose strings have the execution's secrets behind markers (SecretMask.hide).
_HIDDEN = "secretsHidden"
# The machine's own record is kept as it is: the reconciler and Stop read its children from
# the log, and it holds no step data.
_UNHIDDEN = frozenset({engine.MACHINE_RECORD, _HIDDEN})


def _log_redaction() -> LogRedaction:
    """The redaction of log records: the runner's own logger's, and those of every logger
    that reaches the root handlers (the Lambda runtime's: the tracer, botocore, ...)."""
    from stepline.api.http import logger

    logger.addFilter(_LOGS)  # a filter is added only if it is not there yet
    for handler in logging.getLogger().handlers:
        handler.addFilter(_LOGS)
    return _LOGS


def handle(svc: Services, message: StepMessage, invocation: Invocation) -> None:
    """Process one steps-queue message."""
    redaction = _log_redaction()
    with redaction.scope(message.execution_id):
        try:
            _handle(svc, message, invocation)
        except Exception as exc:
            # What escapes (to the tracer, the logs, _give_up) quotes no secret value.
            redaction.mask_of(message.execution_id).redact_exception(exc)
            raise


def _handle(svc: Services, message: StepMessage, invocation: Invocation) -> None:
    head_read = time.monotonic()
    head = svc.executions.get(message.execution_id)
    if head is None:
        raise ExecutionGone(message.execution_id)
    last = svc.log.last(head.id)
    next_seq = 0 if last is None else last.seq + 1
    if message.resume:
        # A child ended: go on from the newest item unless a runner is busy with calls (it
        # polls its children itself after them).
        if last is not None and not last.calls and not last.ended:
            message = replace(message, seq=next_seq, resume=False)
        else:
            return
    if message.nudge:
        _nudged(svc, message, head, last)
    elif message.seq != next_seq:
        _behind(svc, message, head, last)
    elif _due(svc, message, head, last):
        _begin(svc, message, head, last, invocation, head_read)


def _nudged(
    svc: Services, message: StepMessage, head: ExecutionRecord, last: LogItem | None
) -> None:
    """Stop or Terminate asks to close what is open. A runner performing calls does that
    itself after them; a crashed one gets its message redelivered."""
    if head.status != "STOPPED":
        return
    children.notify_parent(svc, head)
    if last is not None and not last.ended and not last.calls:
        waited = engine.stored_children(_machine_part(last))
        children.stop_children(svc, waited, terminate=head.cancel == "TERMINATE")
        _close_after_stop(svc, head, last, last.seq + 1, message.seq)


def _due(svc: Services, message: StepMessage, head: ExecutionRecord, last: LogItem | None) -> bool:
    """Whether the execution should advance now (else: finished, stopped, or still waiting)."""
    if last is not None and last.ended:
        _finalize_head(svc, head, last.machine)
        return False
    if head.status not in ("QUEUED", "RUNNING"):
        if head.status == "STOPPED" and last is not None:
            _execution_metric("ExecutionsStopped")
        _close_after_stop(svc, head, last, 0 if last is None else last.seq + 1, message.seq)
        return False
    if last is not None and last.wake is not None and from_stored(last.wake) > svc.clock():
        _park(svc, message, from_stored(last.wake))  # a long wait hops until it is due
        return False
    return True


def _begin(
    svc: Services,
    message: StepMessage,
    head: ExecutionRecord,
    last: LogItem | None,
    invocation: Invocation,
    head_read: float,
) -> None:
    spec = _spec(svc, head)
    seq = 0 if last is None else last.seq + 1
    still_open = [] if last is None else last.open
    run = _Run(svc, message, head, spec, engine.new_machine(None, head.id), seq, invocation)
    run.head_read, run.chain = head_read, _Chain.of(last)
    run.written_open = {int(e["n"]): e for e in still_open}
    limit = timedelta(hours=svc.settings.max_execution_hours)
    try:
        if svc.clock() - head.started_at > limit:
            # Whatever it was doing, an execution ends at its time quota: what is open closes.
            raise StepFailure(
                WorkflowErrorCode.STEP_QUOTA_EXCEEDED,
                f"the execution ran longer than {svc.settings.max_execution_hours:g} h",
            )
        run.secrets, run.mask = _secrets(svc, spec)
        _LOGS.use(head.id, run.mask)
        records = _stored_records(head.id, last)
        if records is None:
            run.machine = engine.new_machine(_input(svc, head), head.id)
        else:
            run.machine = engine.load(_resumed(records, run.mask), still_open)
    except StepFailure as failure:
        # Past the time quota, or a secret is unreadable (or gone since the snapshot hid it):
        # the execution fails, and the steps still open close with it.
        run.finished = engine.cancel_entries(still_open, svc.clock())
        run.machine = engine.fail(run.machine, failure, svc.clock())
        _end(run)
        return
    _drive(run)


def _machine_part(item: LogItem) -> Records | None:
    """The machine part of a log item: its delta, or its full records."""
    return item.delta if item.delta is not None else item.machine


def _stored_records(execution_id: str, last: LogItem | None) -> Records | None:
    """The machine's records as the log holds them up to ``last``: its newest full records
    with the deltas since folded in; None before the first item."""
    if last is None:
        return None
    if last.delta is None or last.base is None:
        return last.machine
    items = [*last.before, last]
    if items[0].seq != last.base or items[0].machine is None:
        raise RuntimeError(f"{execution_id}: the full machine at {last.base} is missing")
    records = dict(items[0].machine)
    for item in items[1:]:
        engine.apply(records, item.delta or {})
    return records


def _input(svc: Services, head: ExecutionRecord) -> Any:
    return json.loads(_input_of(svc, head))


def _secrets(svc: Services, spec: Workflow) -> tuple[dict[str, dict[str, str]], SecretMask]:
    """Every secret the spec's templates name (lockboxPayload), read once per invocation, and
    the mask that keeps their values out of what the runner writes."""
    refs = references(spec)
    if not refs:
        return {}, SecretMask()
    secrets = SecretCache(svc.client_factory("secretsmanager")).resolve(refs, timeout=10.0)
    return secrets, SecretMask.of(refs, secrets)


def _hidden(records: Records, mask: SecretMask) -> Records:
    """Machine records as a log item stores them: the threads' (states, step inputs) with the
    secret values behind markers. (The open entries are stored as GetHistory shows them,
    redacted, and the machine goes on with those.)"""
    if not mask:
        return records
    hidden = {k: v if k in _UNHIDDEN or v is None else mask.hide(v) for k, v in records.items()}
    return hidden | {_HIDDEN: True}


def _resumed(records: Records, mask: SecretMask) -> Records:
    """The records to go on from, with their secret values put back (StepFailure
    STEP_INVALID_ARGUMENT when one cannot be read any more)."""
    if not records.get(_HIDDEN):
        return records
    return {k: v if k in _UNHIDDEN else mask.restore(v) for k, v in records.items() if k != _HIDDEN}


def _shown(entries: list[dict[str, Any]], mask: SecretMask) -> list[dict[str, Any]]:
    """History entries with the secret values in their step data and messages redacted."""
    if not mask:
        return entries
    shown = []
    for entry in entries:
        copied = dict(entry)
        for part, key in ENTRY_DATA:
            if isinstance(copied.get(part), dict) and isinstance(copied[part].get(key), str):
                copied[part] = {**copied[part], key: mask.redact_text(copied[part][key])}
        shown.append(copied)
    return shown


def _shown_outcome(outcome: dict[str, Any] | None, mask: SecretMask) -> dict[str, Any] | None:
    """An execution's outcome with the secret values in its result or error message redacted."""
    if outcome is None or not mask:
        return outcome
    shown = dict(outcome)
    if "result" in shown:
        shown["result"] = mask.redact(shown["result"])
    if isinstance(shown.get("error"), dict):
        error = shown["error"]
        shown["error"] = {**error, "message": mask.redact_text(str(error.get("message", "")))}
    return shown


def _behind(
    svc: Services, message: StepMessage, head: ExecutionRecord, last: LogItem | None
) -> None:
    """A duplicate, a late message, or the survivor of a crash between write and send."""
    if last is None or message.seq > last.seq + 1 or last.by != message.seq:
        return
    if last.ended:
        _finalize_head(svc, head, last.machine)
        return
    if head.status not in ("QUEUED", "RUNNING"):
        return
    if last.wake is not None:
        _park(svc, StepMessage(head.id, last.seq + 1), from_stored(last.wake))
    elif last.calls:
        # The producer died while performing calls: perform them again (at-least-once).
        svc.queue.send(StepMessage(head.id, last.seq + 1))


def _park(svc: Services, message: StepMessage, wake: datetime) -> None:
    delay = max(0.0, (wake - svc.clock()).total_seconds())
    # SQS delays are whole seconds: round up, so an early message never loops through the queue.
    seconds = math.ceil(delay)
    svc.queue.send(message, delay_seconds=min(MAX_DELAY_SECONDS, seconds))


def _input_of(svc: Services, head: ExecutionRecord) -> str:
    if head.input_json is not None:
        return head.input_json
    return svc.payloads.get(head.input_ref) if head.input_ref else "{}"


_SPECS: dict[tuple[str, str, int], Workflow] = {}


def _spec(svc: Services, head: ExecutionRecord) -> Workflow:
    """The pinned specification, parsed once per warm runner (versions never change)."""
    key = (svc.settings.table_name, head.workflow_id, head.spec_version)
    if key not in _SPECS:
        text = svc.workflows.get_spec(head.workflow_id, head.spec_version)
        if text is None:
            raise RuntimeError(f"spec version {head.spec_version} of {head.workflow_id} is missing")
        if len(_SPECS) >= 256:
            _SPECS.clear()
        _SPECS[key] = load(text)
    return _SPECS[key]


def _drive(run: _Run) -> None:
    """Advance, perform calls, checkpoint; until the end, a wait, or the time budget."""
    while True:
        adv = engine.advance(
            run.spec,
            run.machine,
            run.svc.clock(),
            run.results,
            scale=run.svc.settings.time_scale,
            secrets=run.secrets,
            pause=lambda: run.invocation.time_left() <= 0,  # an inline stretch is bounded too
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
            if not _still_active(run):
                return
            run.called = True
            results = _perform(run, calls)
            if results is None:
                return
            run.results = results
            if not _active_after_calls(run):
                return
            continue
        _hand_over(run, adv.wake_at, more_calls=bool(calls) or adv.paused, waiting=waiting)
        return


def _hand_over(run: _Run, wake: datetime | None, *, more_calls: bool, waiting: bool) -> None:
    """Checkpoint and say what comes next: a wake-up, a new invocation, or a child's end."""
    if not _checkpoint(run, wake=wake):
        return
    if wake is not None:
        _park(run.svc, StepMessage(run.head.id, run.seq), wake)
    elif more_calls or not waiting:
        run.svc.queue.send(StepMessage(run.head.id, run.seq))  # out of time: go on in a new one
    elif children.any_ended(run.svc, engine.child_executions(run.machine)):
        # A child ended between our look and our write: its resume may have been dropped.
        run.svc.queue.send(StepMessage(run.head.id, 0, resume=True))


def _poll_children(
    run: _Run, calls: list[engine.CallRequest]
) -> tuple[list[engine.CallRequest], bool]:
    """Workflow steps start or poll their child; the other calls are returned to perform."""
    others, waiting = [], False
    for call in calls:
        body = engine.step_at(run.spec, call.scope, call.step_id).body
        if not children.is_child_call(body):
            others.append(call)
            continue
        assert isinstance(body, WorkflowCall)
        result = children.poll(run.svc, run.head, run.machine, call, body, run.secrets)
        if result is None:
            waiting = True
        else:
            run.results[call.n] = result
    return others, waiting


def _checkpoint(
    run: _Run, *, calls: bool = False, wake: datetime | None = None, ended: bool = False
) -> bool:
    """Append the next log item; False when another runner got there first."""
    if not ended and _still_running_at_horizon(run, wake, calls) and not _mark_running(run):
        return False
    at = run.svc.clock()
    shown_open = _shown(engine.open_entries(run.machine), run.mask)
    item = LogItem(
        seq=run.seq,
        by=run.message.seq,
        at=stored(at),
        entries=_shown(run.finished, run.mask),
        open=shown_open,
        wake=stored(wake) if wake else None,
        calls=calls,
        ended=ended,
        expires_at=_log_expiry(run.svc, at),
    )
    chain = None
    if ended:  # an ended log is never advanced again: its outcome is all a repair needs
        item = replace(item, machine=_ended_machine(run))
    else:
        item, chain = _machine(run, item)
    still_open = {int(e["n"]): e for e in shown_open}
    try:
        run.svc.log.append(run.head.id, item)
    except LostRace:
        return False
    run.chain, run.written_open = chain, still_open
    outcome = engine.outcome(run.machine) if ended else None
    _step_metrics(run.finished, ended=outcome["status"] if outcome else None)
    run.finished = []
    run.seq += 1
    return True


def _machine(run: _Run, item: LogItem) -> tuple[LogItem, _Chain]:
    """The item with the machine: what changed since the previous checkpoint, or the whole
    machine when that is cheaper over the chain (the deltas since the last full one would
    outgrow it, or the chain is MAX_CHAIN long, or the machine is small); and the chain after
    it. An item with a delta keeps only the open entries that changed since the previous item,
    and the numbers of all."""
    chain = run.chain
    if chain is not None and chain.full >= DELTA_FROM and run.seq - chain.base < MAX_CHAIN:
        delta = _hidden(engine.changes(run.machine), run.mask)
        size = _size(delta)
        if chain.deltas + size <= chain.full:
            grown = _Chain(chain.base, chain.full, chain.deltas + size)
            item = replace(item, delta=delta, base=chain.base, chain=grown.deltas)
            changed = [e for e in item.open if run.written_open.get(int(e["n"])) != e]
            ids = [int(e["n"]) for e in item.open]
            return replace(item, full=chain.full, open=changed, open_ids=ids), grown
    records = _hidden(engine.snapshot(run.machine), run.mask)
    size = _size(records)
    return replace(item, machine=records, full=size), _Chain(run.seq, size)


def _size(records: Records) -> int:
    return len(json.dumps(records, ensure_ascii=False, separators=(",", ":")))


def _ended_machine(run: _Run) -> Records:
    """What the last log item keeps: the outcome, as the head shows it (secrets redacted)."""
    return {"outcome": _shown_outcome(engine.outcome(run.machine), run.mask)}


# Entry types of control steps: counted together, since a document per type would cost more log
# bytes than it tells (they take no time of their own).
_CONTROL_ENTRIES = frozenset(
    {"Switch", "Foreach", "Parallel", "Success", "Fail", "NoOp", "Wait", "While"}
)


def _step_metrics(entries: list[dict[str, Any]], ended: str | None = None) -> None:
    """EMF metrics of the steps one log write recorded: all steps together (and the
    execution's end when this write is it), then each integration step type on its own
    (completed, failed, retried, mean duration)."""
    if not entries and ended is None:
        return
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    def counts(metrics: EphemeralMetrics, group: list[dict[str, Any]]) -> None:
        completed = sum(1 for e in group if e["status"] == "COMPLETED")
        retried = sum(int(e.get("attempts", 1)) - 1 for e in group)
        metrics.add_metric(name="StepCompleted", unit=MetricUnit.Count, value=completed)
        metrics.add_metric(name="StepFailed", unit=MetricUnit.Count, value=len(group) - completed)
        if retried:
            metrics.add_metric(name="StepRetried", unit=MetricUnit.Count, value=retried)

    overall = EphemeralMetrics()
    if entries:
        counts(overall, entries)
    if ended is not None:
        overall.add_metric(name=f"Executions{ended.title()}", unit=MetricUnit.Count, value=1)
    overall.flush_metrics()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry["type"] not in _CONTROL_ENTRIES:
            by_type.setdefault(entry["type"], []).append(entry)
    for step_type, group in by_type.items():
        metrics = EphemeralMetrics()
        metrics.add_dimension(name="type", value=step_type)
        counts(metrics, group)
        total = sum(float(str(e.get("duration", "0s")).rstrip("s") or 0) for e in group)
        metrics.add_metric(
            name="StepDuration", unit=MetricUnit.Milliseconds, value=total * 1000 / len(group)
        )
        metrics.flush_metrics()


def _running_horizon(run: _Run) -> datetime:
    """When an execution still active counts as RUNNING in List."""
    return run.head.started_at + timedelta(seconds=RUNNING_AFTER)


def _still_running_at_horizon(run: _Run, wake: datetime | None, calls: bool) -> bool:
    """Whether the execution has run RUNNING_AFTER seconds, or surely will still be running
    then: a wait that ends later, or a hand-over or child whose end nobody knows. (Slow calls
    are looked at while they run.)"""
    horizon = _running_horizon(run)
    if run.svc.clock() >= horizon:
        return True
    return not calls and (wake is None or wake >= horizon)


def _mark_running(run: _Run) -> bool:
    """QUEUED → RUNNING on the head and its List indexes; False when it has been stopped."""
    if run.head.status != "QUEUED":
        return True
    try:
        run.svc.executions.mark_running(run.head)
    except NotActive:
        return False
    run.head = replace(run.head, status="RUNNING")
    return True


def _still_active(run: _Run) -> bool:
    """Before calls start, the head must have been read active a moment ago: after Stop or
    Terminate returns, nothing starts."""
    if time.monotonic() - run.head_read < HEAD_FRESH:
        return True
    read = time.monotonic()
    head = run.svc.executions.get(run.head.id)
    if head is not None and head.status in ("QUEUED", "RUNNING"):
        run.head_read = read
        return True
    children.stop_children(
        run.svc,
        engine.child_executions(run.machine),
        terminate=head is None or head.cancel == "TERMINATE",
    )
    run.finished = engine.cancel_open(run.machine, run.svc.clock())
    _checkpoint(run, ended=True)
    return False


def _active_after_calls(run: _Run) -> bool:
    """After calls return: if Stop came meanwhile, record their results and start nothing.

    Calls that returned within HEAD_FRESH of the last read need no read of their own: the
    next batch starts only on a read that fresh anyway, so quick calls cost one head read per
    HEAD_FRESH, not one per batch (a head with a large input is several read units)."""
    if time.monotonic() - run.head_read < HEAD_FRESH:
        return True
    read = time.monotonic()
    head = run.svc.executions.get(run.head.id)
    if head is not None and head.status in ("QUEUED", "RUNNING"):
        run.head_read = read
        return True
    adv = engine.advance(
        run.spec, run.machine, run.svc.clock(), run.results, start_new=False, secrets=run.secrets
    )
    run.machine, run.results = adv.machine, {}
    run.finished.extend(adv.finished)
    run.finished.extend(engine.cancel_open(run.machine, run.svc.clock()))
    _checkpoint(run, ended=True)
    return False


def _perform(run: _Run, calls: list[engine.CallRequest]) -> dict[int, engine.CallResult] | None:
    """Make the calls concurrently; None when Terminate interrupted them."""
    pool = ThreadPoolExecutor(max_workers=min(32, len(calls)))
    trace = _trace_context()
    futures = {pool.submit(_traced_attempt, run, call, trace): call for call in calls}
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
            if not _checkpoint(run, calls=True):
                pool.shutdown(wait=False, cancel_futures=True)
                return None  # another runner holds this execution: it owns these calls too
        if _terminated(run):
            _cancel(run, {futures[f].n for f in pending})
            pool.shutdown(wait=False, cancel_futures=True)
            return None
    pool.shutdown(wait=False)
    return results


def _terminated(run: _Run) -> bool:
    """Polled while slow calls run: whether Terminate has come (a Stop is seen after the
    calls). The head read also turns a run past RUNNING_AFTER to RUNNING."""
    head = run.svc.executions.get(run.head.id)
    if head is None:
        return True
    run.head = head
    if head.status == "QUEUED" and run.svc.clock() >= _running_horizon(run):
        _mark_running(run)
    return head.cancel == "TERMINATE"


def _cancel(run: _Run, running: set[int]) -> None:
    """Terminate: running entries go CANCEL_REQUESTED, then everything open CANCELLED."""
    engine.request_cancel(run.machine, running)
    if _checkpoint(run):
        run.finished = engine.cancel_open(run.machine, run.svc.clock())
        _checkpoint(run, ended=True)


def _trace_context() -> tuple[Any, Any] | None:
    """The X-Ray recorder and the current segment, to carry into the call threads."""
    from stepline.api.http import tracer

    active = tracer()
    if active.disabled:
        return None
    recorder: Any = active.provider
    return recorder, recorder.get_trace_entity()


def _traced_attempt(
    run: _Run, call: engine.CallRequest, trace: tuple[Any, Any] | None
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


def _attempt(run: _Run, call: engine.CallRequest) -> engine.CallResult:
    from stepline.api.http import logger

    logger.thread_safe_append_keys(execution_id=run.head.id, step_id=call.entry_id)
    step = engine.step_at(run.spec, call.scope, call.step_id)
    body = step.body
    assert isinstance(body, IntegrationStep)
    context = CallContext(
        client=run.svc.client_factory,
        render=lambda template: render(template, call.step_input, secrets=run.secrets),
        timeout=call.timeout,
        execution_id=run.head.id,
        step_id=call.entry_id,
        allow_private_hosts=run.svc.settings.allowed_private_hosts,
        reserved=run.svc.reserved,
        credentials=run.svc.credentials,
    )
    try:
        output = adapter_for(body)(body, call.step_input, context)
    except StepFailure as failure:
        return engine.CallResult(code=failure.code.value, message=failure.message)
    except Exception as exc:  # an adapter bug must not take the runner down with it
        logger.exception("integration step crashed", extra={"attempt": call.attempt})
        return engine.CallResult(
            code=WorkflowErrorCode.STEP_INTERNAL.value, message=f"{type(exc).__name__}: {exc}"
        )
    return engine.CallResult(output=output)


def _end(run: _Run) -> None:
    """Write the final log item, then the head: FINISHED with its result, or FAILED."""
    if not _checkpoint(run, ended=True):
        return
    _finalize_head(run.svc, run.head, _ended_machine(run))


def _finalize_head(svc: Services, head: ExecutionRecord, ended: Records | None) -> None:
    """Copy the outcome of an ended log (``ended``: its machine part) onto the head (again,
    after a crash in between)."""
    outcome = (ended or {}).get("outcome")
    if outcome is None or head.status not in ("QUEUED", "RUNNING"):
        return
    now = svc.clock()
    try:
        if outcome["status"] == "FINISHED":
            fields = _result_fields(svc, head.id, outcome["result"])
            svc.executions.end(head, "FINISHED", now, result=fields)
        else:
            svc.executions.end(head, "FAILED", now, error=outcome["error"])
    except NotActive:
        return  # stopped meanwhile: STOPPED stays
    children.notify_parent(svc, head)


def _execution_metric(name: str) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name=name, unit=MetricUnit.Count, value=1):
        pass


def _result_fields(svc: Services, execution_id: str, result: Any) -> dict[str, str]:
    text = json.dumps(result, ensure_ascii=False)
    if len(text.encode()) <= INLINE_LIMIT:
        return {"result": text}
    return {"resultRef": svc.payloads.put(f"executions/{execution_id}/result.json", text)}


def _log_expiry(svc: Services, at: datetime) -> int:
    """The TTL of a log item written at ``at``."""
    settings = svc.settings
    return history_expiry(
        at,
        retention_days=settings.history_retention_days,
        max_execution_hours=settings.max_execution_hours,
    )


def _close_after_stop(
    svc: Services, head: ExecutionRecord, last: LogItem | None, seq: int, by: int
) -> None:
    """The execution was stopped while no step was running: close what is still open."""
    if last is None or not last.open:
        return
    closed = engine.cancel_entries(last.open, svc.clock())
    at = svc.clock()
    item = LogItem(
        seq=seq,
        by=by,
        at=stored(at),
        entries=closed,
        ended=True,
        expires_at=_log_expiry(svc, at),
    )
    try:
        svc.log.append(head.id, item)
    except LostRace:
        return


def fail_poisoned(
    svc: Services,
    execution_id: str,
    reason: str,
    code: WorkflowErrorCode = WorkflowErrorCode.STEP_INTERNAL,
) -> None:
    """Mark an execution FAILED when its message keeps failing (or surely would).

    ``reason`` is redacted with the secrets of the execution when this process is advancing it
    (its message failed here); the dead-letter path gives reasons of its own, without data.
    """
    head = svc.executions.get(execution_id)
    if head is None:
        return
    prefix = "internal error: " if code is WorkflowErrorCode.STEP_INTERNAL else ""
    # Redacted before it is cut, so that no part of a secret value is left.
    message = _LOGS.mask_of(execution_id).redact_text(f"{prefix}{reason}")
    error = {"message": message[:1000], "errorCode": code.value}
    # Ended already: maybe by an earlier try of this one that could not tell the parent.
    with suppress(NotActive):
        svc.executions.end(head, "FAILED", svc.clock(), error=error)
    children.notify_parent(svc, head)  # a parent waiting on this child goes on (resumes repeat)


def recurs(exc: BaseException) -> bool:
    """Whether handling the message again would fail the same way.

    Only AWS being unavailable or throttling passes with time (the store says so; a botocore
    error that got past it is taken as passing too). Everything else — an item over the size
    limit, an overflow, data the engine cannot take, a bug — fails every delivery alike.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    return not isinstance(exc, Transient | ClientError | BotoCoreError | ConnectionError)


def _give_up(svc: Services, message: StepMessage, exc: BaseException) -> None:
    """End the execution of a message that cannot succeed, with the code that says why."""
    from stepline.api.http import logger

    logger.exception("failing the execution: its message cannot succeed")
    if isinstance(exc, ItemTooLarge):
        reason = f"a step's data does not fit the execution log ({exc})"
        fail_poisoned(svc, message.execution_id, reason, WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED)
    else:
        fail_poisoned(svc, message.execution_id, f"{type(exc).__name__}: {exc}")


def process_dead_letter(svc: Services, record: Any) -> None:
    """A steps message the queue gave up on: its execution ends FAILED, never stays active.

    It got there by failing every receive without the runner failing it itself — a crash or
    a timeout on the last one, or an invocation that died (its on-failure record).
    """
    message = _parsed(record.body)
    if message is None:
        return
    receives = record.attributes.approximate_receive_count or "?"
    fail_poisoned(
        svc, message.execution_id, f"its message reached the dead-letter queue ({receives} tries)"
    )


def process_record(svc: Services, record: Any, context: Any, tracer: Any) -> None:
    """One SQS record: parse, advance, and on the last receive fail the execution cleanly."""
    message = _parsed(record.body)
    if message is None:
        return
    receives = int(record.attributes.approximate_receive_count or 1)
    with _log_redaction().scope(message.execution_id):  # its secrets, for _give_up too
        try:
            _advance(svc, message, context, tracer)
        except Exception as exc:
            if not recurs(exc) and receives < svc.settings.max_receive_count:
                raise  # it may pass: the queue delivers it again after its visibility timeout
            _give_up(svc, message, exc)


def process_direct(svc: Services, event: Any, context: Any, tracer: Any) -> None:
    """A message handed over as an asynchronous invocation (a new execution's first hop).

    What may pass goes on through the queue, which retries it and, on its last receive, fails
    the execution cleanly: the message is put there rather than left to Lambda's retries. What
    would fail again ends the execution now.
    """
    message = _parsed(json.dumps(event))
    if message is None:
        return
    with _log_redaction().scope(message.execution_id):  # its secrets, for _give_up too
        try:
            _advance(svc, message, context, tracer)
        except Exception as exc:
            if recurs(exc):
                _give_up(svc, message, exc)
                return
            from stepline.api.http import logger

            logger.exception("handing the message to the steps queue after an error")
            svc.queue.send(message)


def _parsed(body: str) -> StepMessage | None:
    """The step message in ``body``; None (logged) when it is not one."""
    try:
        return StepMessage.from_json(body)
    except ValueError:
        from stepline.api.http import logger

        logger.error("dropping a message that is not a step message", extra={"body": body})
        return None


def _advance(svc: Services, message: StepMessage, context: Any, tracer: Any) -> None:
    """Handle one message within a Lambda invocation; one for an unknown execution is dropped."""
    from stepline.api.http import logger

    logger.append_keys(execution_id=message.execution_id)
    invocation = Invocation(remaining=lambda: context.get_remaining_time_in_millis() / 1000)
    try:
        tracer.put_annotation(key="execution_id", value=message.execution_id)
        tracer.capture_method(handle)(svc, message, invocation)
    except ExecutionGone:
        logger.warning("dropping a message for an unknown execution")
