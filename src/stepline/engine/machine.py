"""A YaWL execution as a serialisable machine, advanced step by step.

The machine is plain JSON (it is stored in the execution log). It holds a tree of threads: the
top-level thread, and one per Parallel branch, Foreach item and While iteration in progress.
:func:`advance` runs every thread as far as it can without waiting: control steps evaluate
inline; an integration step becomes a :class:`CallRequest` for the runner; Wait steps and retry
delays become a wake-up time. Results of calls come back in the next :func:`advance`.

The machine stays linear in the work it describes, whatever the fan-out:

- the top-level state is held once, by the top-level thread; the threads of nested scopes read
  it from there as ``$global`` (the top-level thread waits on the compound step while they run,
  so its state is the one the step started with);
- a Parallel branch or Foreach item that has ended keeps only its result (and its branch name),
  and an advance looks only at the children still running;
- :func:`advance` works on the machine it is given, in place: the caller hands it over and goes
  on with the one returned, so no advance copies the whole machine.

Snapshots written before these rules (every nested thread with its own copy of the top-level
state as ``global``, ended ones kept whole) are read as they are, and take the compact form
when their step next runs.

History entry ids: top-level steps use their step id; steps inside nested scopes are prefixed
by their parent: ``par/branch/step`` (Parallel), ``each[3]/step`` (Foreach item 3),
``loop[2]/step`` (While iteration 2).

Secret values templates read (``lockboxPayload``, from the ``secrets`` the runner passes) are
held as they are: in the state, the entries, the outcome. The engine does no I/O and redacts
nothing; the runner keeps them out of what it stores and shows
(:class:`stepline.integrations.secrets.SecretMask`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stepline import bounds
from stepline.times import TimestampError, duration, from_stored, parse_timestamp, stored
from stepline.yawl import state as st
from stepline.yawl.control import (
    MAX_WAIT_SECONDS,
    Fail,
    Foreach,
    NoOp,
    Parallel,
    Success,
    Switch,
    Wait,
    While,
    parse_wait_seconds,
)
from stepline.yawl.errors import StepFailure, WorkflowErrorCode
from stepline.yawl.integration import IntegrationStep
from stepline.yawl.policies import first_matching_rule
from stepline.yawl.spec import Block, Step, Workflow
from stepline.yawl.templating import TemplateError, evaluate_condition, render

Machine = dict[str, Any]
Thread = dict[str, Any]

MAX_STEPS = 1000
MAX_DATA_BYTES = 2 * 1024 * 1024
DEFAULT_TIMEOUT = 900.0

_TYPE_NAMES = {"WorkflowCall": "Workflow"}
# The parts of a history entry that hold step data or messages, as (field, key): everything
# else in an entry the engine makes from the spec and its own bookkeeping.
ENTRY_DATA = (
    ("input", "inputJson"),
    ("output", "outputJson"),
    ("error", "message"),
    ("lastError", "message"),
)


@dataclass(frozen=True)
class CallRequest:
    """An integration step attempt for the runner to perform."""

    n: int
    entry_id: str
    scope: tuple[tuple[str, str], ...]
    step_id: str
    step_input: Any
    attempt: int
    timeout: float


@dataclass(frozen=True)
class CallResult:
    """What an attempt returned: an output, or a failure code and message."""

    output: Any = None
    code: str | None = None
    message: str = ""

    @property
    def failed(self) -> bool:
        """True when the attempt failed."""
        return self.code is not None


@dataclass
class Advance:
    """The outcome of one :func:`advance`."""

    machine: Machine
    calls: list[CallRequest] = field(default_factory=list)
    wake_at: datetime | None = None
    finished: list[dict[str, Any]] = field(default_factory=list)
    paused: bool = False
    """Steps were left unstarted because ``pause`` asked: go on in a new advance."""

    @property
    def ended(self) -> bool:
        """True when the execution reached FINISHED or FAILED."""
        return self.machine.get("outcome") is not None


class _End(Exception):
    """Unwinds the thread tree when the whole execution ends (Success, Fail, uncaught)."""


@dataclass
class _Tick:
    spec: Workflow
    machine: Machine
    now: datetime
    results: Mapping[int, CallResult]
    scale: float
    start_new: bool = True
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    pause: Callable[[], bool] | None = None
    max_steps: int = MAX_STEPS
    calls: list[CallRequest] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)
    wake: datetime | None = None
    paused: bool = False
    started: int = 0

    def want_wake(self, at: datetime) -> None:
        self.wake = at if self.wake is None else min(self.wake, at)

    def may_start(self) -> bool:
        """A new step may start now (not a Stop's advance, and no pause asked for).

        A pause is honoured once a step has started in this advance, so every advance moves on.
        """
        if not self.start_new:
            return False
        if self.started and self.pause is not None and self.pause():
            self.paused = True
            return False
        self.started += 1
        return True


def new_machine(execution_input: Any, execution_id: str = "") -> Machine:
    """A machine about to run the workflow's first step."""
    return {
        "id": execution_id,
        "root": _thread("", (), None, st.initial_state(execution_input)),
        "entries": {},
        "n": 0,
        "steps": 0,
        "outcome": None,
    }


def _thread(path: str, scope: tuple[tuple[str, str], ...], start: str | None, state: Any) -> Thread:
    return {
        "path": path,
        "scope": [list(s) for s in scope],
        "step": start,
        "state": state,
        "task": None,
        "done": False,
    }


def advance(
    spec: Workflow,
    machine: Machine,
    now: datetime,
    results: Mapping[int, CallResult] | None = None,
    *,
    scale: float = 1.0,
    start_new: bool = True,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    pause: Callable[[], bool] | None = None,
    max_steps: int | None = None,
) -> Advance:
    """Run every thread as far as it goes; return calls to make, a wake time, ended entries.

    The advance changes ``machine`` in place and returns it as ``Advance.machine``: the caller
    goes on with that one, and copies the machine first if it needs it as it was.

    With ``start_new=False`` only the results are taken in (Stop: the running steps finish,
    nothing else starts). ``pause`` is asked before each new step but the first; once it says
    True, no further step starts and the advance returns ``paused`` (the caller's time budget:
    the engine itself reads no clock). ``max_steps`` is the execution's step quota (every
    branch and iteration counts; None: ``MAX_STEPS``); beyond it the execution fails with
    STEP_QUOTA_EXCEEDED.
    """
    quota = MAX_STEPS if max_steps is None else max_steps
    tick = _Tick(spec, machine, now, results or {}, scale, start_new, secrets or {}, pause, quota)
    root = tick.machine["root"]
    if tick.machine["outcome"] is None:
        if root["step"] is None and not root["done"]:
            root["step"] = spec.start
        try:
            _run(tick, root)
            if root["done"]:
                _finish_ok(tick, root)
        except _End:
            pass
        except StepFailure as failure:
            _finish_failed(tick, failure)
    paused = tick.paused and tick.machine["outcome"] is None
    # A paused advance goes on at once in the next one: its wake-up would come too late.
    wake = None if tick.machine["outcome"] is not None or tick.calls or paused else tick.wake
    return Advance(tick.machine, tick.calls, wake, tick.finished, paused)


def fail(machine: Machine, failure: StepFailure, now: datetime) -> Machine:
    """The machine ended FAILED before its next step could run (e.g. a secret is unreadable)."""
    outcome = {
        "status": "FAILED",
        "error": {"message": failure.message, "errorCode": failure.code.value},
    }
    return {**machine, "entries": {}, "outcome": outcome}


def cancel_open(machine: Machine, now: datetime, status: str = "CANCELLED") -> list[dict[str, Any]]:
    """Close every open history entry with ``status`` (Stop, Terminate)."""
    closed = []
    for entry in machine["entries"].values():
        closed.append(_closed(entry, now, status))
    machine["entries"] = {}
    return sorted(closed, key=lambda e: e["n"])


# --- threads -------------------------------------------------------------------------------


def _block(spec: Workflow, scope: list[list[str]]) -> Block:
    block: Block = spec
    for step_id, name in scope:
        body = block.steps[step_id].body
        block = body.branches[name] if isinstance(body, Parallel) else body.do_  # type: ignore[union-attr]
    return block


def step_at(spec: Workflow, scope: tuple[tuple[str, str], ...], step_id: str) -> Step:
    """The step a CallRequest refers to."""
    return _block(spec, [list(s) for s in scope]).steps[step_id]


def _run(tick: _Tick, thread: Thread) -> None:
    """Advance one thread until it waits, finishes or fails (StepFailure propagates)."""
    block = _block(tick.spec, thread["scope"])
    thread.pop("global", None)  # an older snapshot's copy of the top-level state
    while not thread["done"]:
        step_id = thread["step"]
        step = block.steps[step_id]
        if thread["task"] is None:
            if not tick.may_start():
                return
            _start(tick, thread, step_id, step)
        if thread["task"] is not None and not _resume(tick, thread, step):
            return


def _start(tick: _Tick, thread: Thread, step_id: str, step: Step) -> None:
    machine = tick.machine
    machine["steps"] += 1
    if machine["steps"] > tick.max_steps:
        raise StepFailure(
            WorkflowErrorCode.STEP_QUOTA_EXCEEDED,
            f"the execution ran more than {tick.max_steps} steps (every branch and iteration "
            "counts)",
        )
    machine["n"] += 1
    n = machine["n"]
    entry: dict[str, Any] = {
        "n": n,
        "id": f"{thread['path']}{step_id}",
        "type": _type(step),
        "status": "STARTED",
        "startedAt": stored(tick.now),
        "attempts": 1,
    }
    if step.title:
        entry["title"] = step.title
    if step.description:
        entry["description"] = step.description
    machine["entries"][str(n)] = entry
    thread["task"] = {"n": n, "kind": "new"}


def _type(step: Step) -> str:
    name = type(step.body).__name__
    return _TYPE_NAMES.get(name, name)


def _resume(tick: _Tick, thread: Thread, step: Step) -> bool:
    """Work on the thread's current step; True when the thread may go on to its next step."""
    body = step.body
    task = thread["task"]
    try:
        if isinstance(body, IntegrationStep):
            return _call(tick, thread, step, body, task)
        if isinstance(body, Parallel):
            return _parallel(tick, thread, body, task)
        if isinstance(body, Foreach):
            return _foreach(tick, thread, body, task)
        if isinstance(body, While):
            return _while(tick, thread, body, task)
        if isinstance(body, Wait):
            return _wait(tick, thread, body, task)
        return _control(tick, thread, body, task)
    except TemplateError as exc:
        failure = StepFailure(WorkflowErrorCode.STEP_INVALID_TEMPLATE_EXPRESSION, str(exc))
        _fail_entry(tick, task["n"], failure)
        raise failure from exc
    except StepFailure as failure:
        if str(task["n"]) in tick.machine["entries"]:
            _fail_entry(tick, task["n"], failure)
        raise


def _render(tick: _Tick, template: str, data: Any, thread: Thread) -> Any:
    """Render a template with ``$global`` and the secrets the runner fetched."""
    variables = _variables(tick, thread, template)
    return render(template, data, variables=variables, secrets=tick.secrets)


def _filter(tick: _Tick, template: str | None, data: Any, thread: Thread) -> Any:
    """An ``input``/``output`` filter: the data itself when there is no template."""
    return copy.deepcopy(data) if template is None else _render(tick, template, data, thread)


def _goto(thread: Thread, next_step: str | None) -> bool:
    thread["task"] = None
    thread["step"] = next_step
    if next_step is None:
        thread["done"] = True
    return True


def _variables(tick: _Tick, thread: Thread, *templates: str | None) -> dict[str, Any]:
    """The variables of ``templates`` in ``thread``: ``$global`` in every thread but the
    top-level one."""
    return st.template_variables(_global(tick, *templates) if thread["path"] else None)


def _global(tick: _Tick, *templates: Any) -> Any:
    """``$global``, the top-level state; None when no template can name it (rendering a template
    passes its variables as JSON text: a large state is not written out for nothing)."""
    if any(isinstance(t, str) and "global" in t for t in templates):
        return tick.machine["root"]["state"]
    return None


# --- control steps -------------------------------------------------------------------------


def _control(tick: _Tick, thread: Thread, body: Any, task: dict[str, Any]) -> bool:
    if isinstance(body, Switch):
        variables = _variables(tick, thread, *(choice.condition for choice in body.choices))
        data = _filter(tick, body.input, thread["state"], thread)
        _record(tick, task["n"], step_input=data)
        for choice in body.choices:
            if evaluate_condition(choice.condition, data, variables=variables):
                _complete(tick, task["n"], None)
                return _goto(thread, choice.next)
        if body.default is not None:
            _complete(tick, task["n"], None)
            return _goto(thread, body.default.next)
        raise StepFailure(
            WorkflowErrorCode.STEP_NO_CHOICE_MATCHED,
            "no condition is true, and there is no default",
        )
    if isinstance(body, NoOp):
        if body.output is not None:
            output = _render(tick, body.output, thread["state"], thread)
            _apply_output(thread, output)
            _complete(tick, task["n"], output)
        else:
            _complete(tick, task["n"], None)
        return _goto(thread, body.next)
    if isinstance(body, Success):
        _complete(tick, task["n"], None)
        _finish_ok(tick, thread)
        raise _End
    if isinstance(body, Fail):
        message = _render(tick, body.error_message, thread["state"], thread)
        raise StepFailure(
            WorkflowErrorCode.STEP_FAIL,
            message if isinstance(message, str) else json.dumps(message),
        )
    raise StepFailure(WorkflowErrorCode.STEP_INTERNAL, f"unknown step type {type(body).__name__}")


def _wait(tick: _Tick, thread: Thread, body: Wait, task: dict[str, Any]) -> bool:
    if task["kind"] == "new":
        if body.duration is not None:
            raw = _render(tick, body.duration, thread["state"], thread)
            try:
                seconds = parse_wait_seconds(str(raw))
            except ValueError as exc:
                raise StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, str(exc)) from exc
            wake = tick.now + timedelta(seconds=max(0.0, seconds) * tick.scale)
        else:
            raw = _render(tick, body.until or "", thread["state"], thread)
            wake = _until(str(raw), tick)
        task.update(kind="wait", wake=stored(wake))
    wake = from_stored(task["wake"])
    if wake > tick.now:
        tick.want_wake(wake)
        return False
    _complete(tick, task["n"], None)
    return _goto(thread, body.next)


def _until(text: str, tick: _Tick) -> datetime:
    try:
        target = parse_timestamp(text, "until")
    except TimestampError as exc:
        raise StepFailure(WorkflowErrorCode.STEP_INVALID_ARGUMENT, exc.message) from exc
    delay = max(0.0, (target - tick.now).total_seconds())
    if delay > MAX_WAIT_SECONDS:
        raise StepFailure(
            WorkflowErrorCode.STEP_INVALID_ARGUMENT,
            f"wait until {text[:40]!r} is more than 48h away, longer than an execution may run",
        )
    return tick.now + timedelta(seconds=delay * tick.scale)


# --- integration steps ---------------------------------------------------------------------


def _call(
    tick: _Tick, thread: Thread, step: Step, body: IntegrationStep, task: dict[str, Any]
) -> bool:
    n = task["n"]
    if task["kind"] == "new":
        step_input = _filter(tick, body.input, thread["state"], thread)
        task.update(kind="call", input=step_input, attempt=1, wake=None, requested=False)
        _record(tick, n, step_input=step_input)
    result = tick.results.get(n)
    if result is None:
        return _request(tick, thread, body, task)
    task["requested"] = False
    if not result.failed:
        try:
            if bounds.exceeds_depth(result.output):  # before anything copies it
                raise _too_deep("output")
            output = _filter(tick, body.output, result.output, thread)
            _apply_output(thread, output)
        except TemplateError as exc:
            code = WorkflowErrorCode.STEP_INVALID_TEMPLATE_EXPRESSION
            return _failed_attempt(tick, thread, step, body, task, StepFailure(code, str(exc)))
        except StepFailure as invalid:
            return _failed_attempt(tick, thread, step, body, task, invalid)
        _complete(tick, n, output)
        return _goto(thread, body.next)
    failure = StepFailure(result.code or WorkflowErrorCode.STEP_INTERNAL, result.message)
    return _failed_attempt(tick, thread, step, body, task, failure)


def _request(tick: _Tick, thread: Thread, body: IntegrationStep, task: dict[str, Any]) -> bool:
    if task["wake"] is not None and from_stored(task["wake"]) > tick.now:
        tick.want_wake(from_stored(task["wake"]))
        return False
    task["wake"] = None
    task["requested"] = True
    step_id = thread["step"]
    tick.calls.append(
        CallRequest(
            n=task["n"],
            entry_id=f"{thread['path']}{step_id}",
            scope=tuple((s[0], s[1]) for s in thread["scope"]),
            step_id=step_id,
            step_input=task["input"],
            attempt=task["attempt"],
            timeout=float(body.timeout or DEFAULT_TIMEOUT),
        )
    )
    return False


def _failed_attempt(
    tick: _Tick,
    thread: Thread,
    step: Step,
    body: IntegrationStep,
    task: dict[str, Any],
    failure: StepFailure,
) -> bool:
    n = task["n"]
    entry = tick.machine["entries"][str(n)]
    entry["lastError"] = {"message": failure.message, "errorCode": failure.code.value}
    policy = tick.spec.retry_policy_for(step)
    retry = task["attempt"]
    if failure.retryable and policy is not None and policy.should_retry(failure.code, retry):
        seed = f"{tick.machine.get('id', '')}/{entry['id']}#{n}"
        delay = policy.delay_for(retry, seed) * tick.scale
        task["attempt"] += 1
        task["wake"] = stored(tick.now + timedelta(seconds=delay))
        entry["attempts"] = task["attempt"]
        return _request(tick, thread, body, task)
    rule = first_matching_rule(body.catch, failure.code) if failure.retryable else None
    if rule is None:
        raise failure
    output = _render(tick, rule.output, failure.error_info(), thread)
    _apply_output(thread, output)
    _fail_entry(tick, n, failure, output=output)
    return _goto(thread, rule.next)


def _check_size(value: Any, what: str) -> None:
    """REFERENCE §5.1: "Input and output of a step are each limited to 2 MB"; and, as all data
    Stepline keeps, nested at most ``bounds.MAX_DEPTH`` deep (else STEP_DATA_LIMIT_EXCEEDED)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
        bounds.check_depth(text)
    except (RecursionError, bounds.BoundsError):
        raise _too_deep(what) from None
    size = len(text.encode())
    if size > MAX_DATA_BYTES:
        raise StepFailure(
            WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED,
            f"step {what} is {size} bytes, above the limit of {MAX_DATA_BYTES}",
        )


def _too_deep(what: str) -> StepFailure:
    return StepFailure(
        WorkflowErrorCode.STEP_DATA_LIMIT_EXCEEDED, f"step {what} is {bounds.depth_message()}"
    )


def _apply_output(thread: Thread, output: Any) -> None:
    """Merge a step output (within the step data limits) into the thread's state."""
    _check_size(output, "output")
    thread["state"] = st.merge(thread["state"], output)
    thread["last"] = output


# --- nested scopes -------------------------------------------------------------------------


def _child_scope(thread: Thread, name: str) -> tuple[tuple[str, str], ...]:
    return (*((s[0], s[1]) for s in thread["scope"]), (thread["step"], name))


# A Parallel or Foreach task keeps its children in order, with ``next`` (how many have started:
# they start in order) and ``running`` (the indices of those started and not ended), so an
# advance looks at the running children only. An ended child is replaced by its result.


def _fan_out(task: dict[str, Any], kind: str, children: list[Thread]) -> None:
    """The task of a Parallel or Foreach step that has just made its children, none started."""
    task.update(kind=kind, children=children, next=0, running=[])


def _run_children(tick: _Tick, task: dict[str, Any], limit: int) -> bool:
    """Run the running children, then start new ones in order while fewer than ``limit`` run;
    True when every child has ended."""
    if "running" not in task:
        _count_children(task)
    children = task["children"]
    running = task["running"]
    for i in list(running):
        if _ran(tick, children, i):
            running.remove(i)
    while task["next"] < len(children) and len(running) < limit and tick.may_start():
        i = task["next"]
        task["next"] += 1
        running.append(i)
        if _ran(tick, children, i):
            running.remove(i)
    return task["next"] == len(children) and not running


def _ran(tick: _Tick, children: list[Thread], i: int) -> bool:
    """Run child ``i``; True when it has ended (it is then replaced by what its parent needs)."""
    child = children[i]
    _run(tick, child)
    if not child["done"]:
        return False
    children[i] = _ended(child)
    return True


def _ended(child: Thread) -> Thread:
    """What the parent needs of an ended child: its result, and the name of its branch."""
    kept = {"done": True, "result": _result_of(child)}
    if "name" in child:
        kept["name"] = child["name"]
    return kept


def _count_children(task: dict[str, Any]) -> None:
    """Give a task from an older snapshot (children marked ``started``, ended ones whole, each
    with its own ``global``) its counts, and its children the compact form."""
    children = task["children"]
    started = [i for i, child in enumerate(children) if child.get("started") or child["done"]]
    task["next"] = max(started, default=-1) + 1
    task["running"] = [i for i in range(task["next"]) if not children[i]["done"]]
    for i, child in enumerate(children):
        child.pop("global", None)
        child.pop("started", None)
        if child["done"]:
            children[i] = _ended(child)


def _result_of(child: Thread) -> Any:
    if "result" in child:
        return child["result"]
    return st.execution_result(child["state"], child["last"]) if "last" in child else child["state"]


def _parallel(tick: _Tick, thread: Thread, body: Parallel, task: dict[str, Any]) -> bool:
    if task["kind"] == "new":
        step_input = _filter(tick, body.input, thread["state"], thread)
        _record(tick, task["n"], step_input=step_input)
        states = st.branch_states(step_input, body.branches)
        children = [
            _thread(
                f"{thread['path']}{thread['step']}/{name}/",
                _child_scope(thread, name),
                body.branches[name].start,
                states[name],
            )
            | {"name": name}
            for name in body.branches
        ]
        _fan_out(task, "parallel", children)
    if not _run_children(tick, task, body.concurrency):
        return False
    raw = st.parallel_result({c["name"]: _result_of(c) for c in task["children"]})
    return _finish_compound(tick, thread, body.output, body.next, task, raw)


def _foreach(tick: _Tick, thread: Thread, body: Foreach, task: dict[str, Any]) -> bool:
    if task["kind"] == "new":
        step_input = _filter(tick, body.input, thread["state"], thread)
        _record(tick, task["n"], step_input=step_input)
        items = st.foreach_items(step_input)
        scope = _child_scope(thread, "do")
        children = [
            _thread(f"{thread['path']}{thread['step']}[{i}]/", scope, body.do_.start, item)
            for i, item in enumerate(items)
        ]
        _fan_out(task, "foreach", children)
    if not _run_children(tick, task, body.concurrency):
        return False
    raw = st.foreach_result([_result_of(c) for c in task["children"]])
    return _finish_compound(tick, thread, body.output, body.next, task, raw)


def _while(tick: _Tick, thread: Thread, body: While, task: dict[str, Any]) -> bool:
    if task["kind"] == "new":
        _record(tick, task["n"], step_input=thread["state"])
        task.update(kind="while", counter=0, loop=thread["state"], child=None)
    # A While's own templates see `$global` at any depth, the top-level thread's included.
    glob = _global(tick, body.condition, body.input, body.max_iterations)
    while True:
        child = task["child"]
        if child is not None:
            _run(tick, child)
            if not child["done"]:
                return False
            task["loop"] = child["state"]
            task["last"] = _result_of(child)
            task["counter"] += 1
            task["child"] = None
        if not st.while_should_run(body, task["loop"], task["counter"], global_state=glob):
            raw = task.get("last", task["loop"])
            return _finish_compound(tick, thread, body.output, body.next, task, raw)
        start_state = st.while_input(body, task["loop"], task["counter"], global_state=glob)
        _check_size(start_state, "input")
        task["child"] = _thread(
            f"{thread['path']}{thread['step']}[{task['counter']}]/",
            _child_scope(thread, "do"),
            body.do_.start,
            start_state,
        )


def _finish_compound(
    tick: _Tick,
    thread: Thread,
    template: str | None,
    next_step: str | None,
    task: dict[str, Any],
    raw: Any,
) -> bool:
    output = raw if template is None else _render(tick, template, raw, thread)
    _apply_output(thread, output)
    _complete(tick, task["n"], output)
    return _goto(thread, next_step)


# --- entries and the end -------------------------------------------------------------------


def _record(tick: _Tick, n: int, *, step_input: Any) -> None:
    """Check a step's input against the step data limits and note it on the step's entry."""
    _check_size(step_input, "input")
    entry = tick.machine["entries"].get(str(n))
    if entry is not None:
        entry["input"] = {"inputJson": _json(step_input)}


def _json(value: Any) -> str:
    """JSON text of step data for a history entry."""
    return json.dumps(value, ensure_ascii=False)


def _closed(entry: dict[str, Any], now: datetime, status: str) -> dict[str, Any]:
    closed = dict(entry)
    closed["status"] = status
    closed["duration"] = duration(now - from_stored(entry["startedAt"]))
    return closed


def _complete(tick: _Tick, n: int, output: Any) -> None:
    entry = tick.machine["entries"].pop(str(n), None)
    if entry is None:
        return
    closed = _closed(entry, tick.now, "COMPLETED")
    if output is not None:
        closed["output"] = {"outputJson": _json(output)}
    tick.finished.append(closed)


def _fail_entry(tick: _Tick, n: int, failure: StepFailure, output: Any = None) -> None:
    entry = tick.machine["entries"].pop(str(n), None)
    if entry is None:
        return
    closed = _closed(entry, tick.now, "FAILED")
    closed["error"] = {"message": failure.message, "errorCode": failure.code.value}
    if output is not None:
        closed["output"] = {"outputJson": _json(output)}
    tick.finished.append(closed)


def _finish_ok(tick: _Tick, thread: Thread) -> None:
    result = (
        st.execution_result(thread["state"], thread["last"])
        if "last" in thread
        else thread["state"]
    )
    tick.finished.extend(_close_rest(tick, "CANCELLED"))
    tick.machine["outcome"] = {"status": "FINISHED", "result": result}


def _finish_failed(tick: _Tick, failure: StepFailure) -> None:
    tick.finished.extend(_close_rest(tick, "CANCELLED"))
    tick.machine["outcome"] = {
        "status": "FAILED",
        "error": {"message": failure.message, "errorCode": failure.code.value},
    }


def _close_rest(tick: _Tick, status: str) -> list[dict[str, Any]]:
    """Entries still open when the execution ends: enclosing compound steps and siblings."""
    closed = []
    for entry in tick.machine["entries"].values():
        final = "COMPLETED" if entry["type"] in ("Parallel", "Foreach", "While") else status
        closed.append(_closed(entry, tick.now, final))
    tick.machine["entries"] = {}
    tick.calls.clear()
    return sorted(closed, key=lambda e: e["n"])


def open_entries(machine: Machine) -> list[dict[str, Any]]:
    """Entries of steps still in progress, oldest first (shown by GetHistory as they are)."""
    return sorted(machine["entries"].values(), key=lambda e: e["n"])
